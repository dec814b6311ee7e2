#!/usr/bin/env bash
# Consumer test: uses the packages as a new user would. Packs AslCuda and AslCuda.TorchSharp into a local folder
# feed, creates a fresh console app in a temporary folder (outside this repository, so none of its build files
# apply), adds TorchSharp-cpu and AslCuda.TorchSharp from that feed and the usual NuGet source, runs a
# forward+backward checked against ASL's float64 formula (App/Program.cs), then publishes it self-contained for
# linux-x64, checks that exactly one libtorch is in it, and runs the published app.
# Prints "consumer test: passed" or "consumer test: FAILED (why)"; the exit code says the same.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/Consumer"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d "${TMPDIR:-/tmp}/aslcuda-consumer.XXXXXX")
# A version of its own per run: the global NuGet cache never holds an older package under the same number.
suffix="consumertest.$(date +%s).$$"
packages_cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
cleanup() {
  rm -rf "$work"
  if [ -n "${version:-}" ]; then rm -rf "$packages_cache/aslcuda/$version" "$packages_cache/aslcuda.torchsharp/$version"; fi
  rmdir "$packages_cache/aslcuda" "$packages_cache/aslcuda.torchsharp" 2>/dev/null || true   # only when empty
}
trap cleanup EXIT
fail() { echo "consumer test: FAILED ($*)"; exit 1; }
step() { echo "consumer test: $*"; }

step "packing into $work/feed"
ASLCUDA_PACKAGE_OUTPUT="$work/feed" ASLCUDA_VERSION_SUFFIX="$suffix" "$repo/build.sh" pack >"$work/pack.log" 2>&1 ||
  { tail -n 30 "$work/pack.log"; fail "pack"; }
version=$(basename "$work"/feed/AslCuda.TorchSharp.*.nupkg .nupkg); version=${version#AslCuda.TorchSharp.}
for id in AslCuda AslCuda.TorchSharp; do
  for kind in nupkg snupkg; do [ -f "$work/feed/$id.$version.$kind" ] || fail "$id.$version.$kind was not produced"; done
done
# Every kernel source is embedded in the packed core assembly (NVRTC compiles them on the user's machine).
unzip -p "$work/feed/AslCuda.$version.nupkg" lib/net10.0/AslCuda.dll >"$work/AslCuda.dll"
for kernel in "$repo"/kernels/*.cu "$repo"/kernels/*.cuh; do
  grep -aq "AslCuda.kernels.$(basename "$kernel")" "$work/AslCuda.dll" || fail "kernel $(basename "$kernel") is not embedded"
done
# Listings are read whole before they are searched: `unzip | grep -q` under pipefail fails with SIGPIPE when grep
# stops at its match while unzip is still writing.
listing=$(unzip -l "$work/feed/AslCuda.TorchSharp.$version.nupkg")
[[ $listing == *lib/net10.0/AslCuda.TorchSharp.xml* ]] || fail "no XML docs"
nuspec=$(unzip -p "$work/feed/AslCuda.TorchSharp.$version.nupkg" AslCuda.TorchSharp.nuspec)
[[ $nuspec == *'id="TorchSharp-cpu"'* ]] &&
  fail "AslCuda.TorchSharp depends on TorchSharp-cpu; it must reference the managed TorchSharp only"

step "creating a console app with TorchSharp-cpu and AslCuda.TorchSharp $version"
mkdir "$work/app"
cd "$work/app"
cat >nuget.config <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="aslcuda-local" value="$work/feed" />
  </packageSources>
</configuration>
CONFIG
dotnet new console --framework net10.0 --name Consumer --output . >"$work/new.log" 2>&1 || { cat "$work/new.log"; fail "dotnet new console"; }
cp "$here/App/Program.cs" Program.cs
dotnet add package TorchSharp-cpu --version 0.107.0 --no-restore >/dev/null || fail "add TorchSharp-cpu"
dotnet add package AslCuda.TorchSharp --version "$version" --no-restore >/dev/null || fail "add AslCuda.TorchSharp"

step "build and run"
dotnet build -c Release >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; fail "build"; }
# Where libstdc++ lacks GLIBCXX_3.4.32 (Debian 12), the package's buildTransitive target must have patched TorchSharp.
if ! grep -q GLIBCXX_3.4.32 /usr/lib/x86_64-linux-gnu/libstdc++.so.6 2>/dev/null; then
  dynamic_section=$(readelf -d bin/Release/net10.0/runtimes/linux-x64/native/libLibTorchSharp.so)
  [[ $dynamic_section == *libaslcuda_glibcxx_shim.so* ]] ||
    fail "AslCuda.TorchSharp's buildTransitive GLIBCXX fix did not patch libLibTorchSharp.so"
fi
dotnet run -c Release --no-build || fail "the app's forward+backward (see above)"

step "publish self-contained linux-x64"
dotnet publish -c Release -r linux-x64 --self-contained -o "$work/publish" >"$work/publish.log" 2>&1 ||
  { tail -n 30 "$work/publish.log"; fail "publish"; }
libtorch_count=$(find "$work/publish" -name 'libtorch.so' | wc -l)
[ "$libtorch_count" -eq 1 ] || fail "$libtorch_count copies of libtorch.so in the published app, expected 1"
[ -z "$(find "$work/publish" -name 'libtorch_cuda*.so')" ] || fail "a CUDA libtorch came with a CPU application"
"$work/publish/Consumer" || fail "the published app's forward+backward"
echo "consumer test: passed"
