#!/usr/bin/env bash
# Makes libLibTorchSharp.so (TorchSharp-cpu 0.107.0) load on systems whose libstdc++ predates
# GLIBCXX_3.4.32 (Debian 12), by patching the copy in a build output folder, never the NuGet cache:
#   1. mark its GLIBCXX_3.4.32 requirement weak, 2. unversion the one symbol that needs it,
#   3. add a tiny shim library that defines that symbol as NEEDED (found through its $ORIGIN runpath).
# usage: fix-libtorchsharp.sh NATIVE_DIR     (does nothing where it is not needed or already done)
set -euo pipefail
native_dir=$1
lib="$native_dir/libLibTorchSharp.so"
shim_name=libaslcuda_glibcxx_shim.so
here=$(cd "$(dirname "$0")" && pwd)

[ "$(uname -s)" = Linux ] || exit 0
[ -f "$lib" ] || exit 0
# No pipeline may end early under pipefail: `ldconfig -p | awk '... exit'` killed ldconfig with SIGPIPE (exit 141, no
# message) once the listing outgrew a pipe buffer (64 KiB, ~900 libraries). Each listing is read whole, then searched.
PATH=$PATH:/sbin:/usr/sbin
libstdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}' || true)
libstdcxx=${libstdcxx:-/usr/lib/x86_64-linux-gnu/libstdc++.so.6}
if grep -q GLIBCXX_3.4.32 "$libstdcxx"; then exit 0; fi   # system libstdc++ is new enough
dynamic_section=$(readelf -d "$lib")
if [[ $dynamic_section == *"$shim_name"* ]]; then exit 0; fi

for tool in g++ gcc patchelf readelf; do
  command -v $tool >/dev/null || { echo "fix-libtorchsharp: '$tool' is needed to patch $lib for this system's libstdc++ (apt-get install g++ patchelf binutils)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/weaken_verneed" "$here/weaken_verneed.c"
g++ -O2 -shared -fPIC -o "$native_dir/$shim_name" "$here/ios_base_library_init.cpp"
"$work/weaken_verneed" "$lib" GLIBCXX_3.4.32
patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$lib"
patchelf --add-needed "$shim_name" "$lib"
echo "fix-libtorchsharp: patched $lib for a libstdc++ without GLIBCXX_3.4.32"
