#!/usr/bin/env bash
# AslCuda build entry point.
#   ./build.sh test    restore, build, run every test (installs NVRTC from Debian non-free when root); without a
#                      GPU the GPU tests and the GPU check's correctness part run on the emulated device (tests/EmulatedDevice)
#   ./build.sh demo    forward+backward of AsymmetricLoss on every backend, with timings
#   ./build.sh bench   BenchmarkDotNet suites (pass a filter after it, default '*')
#   ./build.sh train   the multi-label training example (BCE, focal, ASL, adaptive ASL)
#   ./build.sh train-images   the same losses on Fashion-MNIST mosaics, then single-label losses (installs dataset-fashion-mnist when root)
#   ./build.sh gpu     publish the self-contained GPU check into bench/gpu/publish (see bench/gpu/README.md)
#   ./build.sh pack    NuGet packages AslCuda and AslCuda.TorchSharp (+ .snupkg) into artifacts/packages
#                      ($ASLCUDA_PACKAGE_OUTPUT; $ASLCUDA_VERSION_SUFFIX makes a pre-release, e.g. ci.42)
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results_dir=${ASLCUDA_TEST_RESULTS:-artifacts/test-results}

# The linker cache, read whole: `ldconfig -p | grep -q` under pipefail fails with SIGPIPE (141) at random once the
# listing outgrows a pipe buffer, because grep exits at its first match while ldconfig is still writing.
linker_cache() { /sbin/ldconfig -p 2>/dev/null || true; }

have_nvrtc() {
  [ -n "${ASLCUDA_NVRTC_PATH:-}" ] && [ -f "$ASLCUDA_NVRTC_PATH" ] && return 0
  [[ $(linker_cache) == *libnvrtc.so* ]]
}

# NVRTC compiles the CUDA kernels, GPU or not: the NVRTC tests need it. Debian ships it in non-free.
ensure_nvrtc() {
  have_nvrtc && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build.sh: installing NVRTC (Debian non-free package libnvrtc11.2)"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      grep -q 'non-free' /etc/apt/sources.list.d/debian.sources ||
        sed -i 's/^Components: main\( contrib\)\?$/& non-free/' /etc/apt/sources.list.d/debian.sources
    elif [ -f /etc/apt/sources.list ]; then
      grep -q 'non-free' /etc/apt/sources.list || sed -i '/^deb .*debian/ s/ main$/ main non-free/' /etc/apt/sources.list
    fi
    apt-get update -qq && apt-get install -y -qq libnvrtc11.2 >/dev/null ||
      echo "build.sh: could not install libnvrtc11.2; NVRTC tests will be ignored" >&2
  else
    echo "build.sh: NVRTC not found. Install it (Debian: enable non-free, apt-get install libnvrtc11.2;" \
         "elsewhere the CUDA toolkit's libnvrtc) or set ASLCUDA_NVRTC_PATH. NVRTC tests will be ignored." >&2
  fi
}

# A CUDA driver here, or one named by the caller: then the GPU tests run on it instead of the emulated device.
have_cuda_driver() {
  [ -n "${ASLCUDA_CUDA_DRIVER_PATH:-}" ] && return 0
  [[ $(linker_cache) == *libcuda.so.1* ]]
}

# The emulated CUDA device (tests/EmulatedDevice) is built with make and g++, and g++ builds its kernels.
ensure_cxx() {
  command -v g++ >/dev/null && command -v make >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq g++ make >/dev/null
  else
    echo "build.sh: the emulated CUDA device needs g++ and make; install them" >&2
  fi
}

# TorchSharp-cpu's native library is patched at build time where libstdc++ lacks GLIBCXX_3.4.32; that needs patchelf.
ensure_patch_tools() {
  local libstdcxx=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
  [ "$(uname -s)" = Linux ] && [ -f "$libstdcxx" ] || return 0
  grep -q GLIBCXX_3.4.32 "$libstdcxx" && return 0
  command -v patchelf >/dev/null && command -v g++ >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq patchelf g++ >/dev/null
  else
    echo "build.sh: this system's libstdc++ is older than TorchSharp needs; install patchelf and g++ so the build can patch it" >&2
  fi
}

# Packs the two library projects (only they are packable). The repository URL is the origin remote's when it
# is a web address; the commit is recorded either way.
pack_packages() {
  local output=$1 properties=(-p:ContinuousIntegrationBuild=true -p:RepositoryCommit="$(git rev-parse HEAD 2>/dev/null || echo unknown)")
  local origin
  origin=$(git remote get-url origin 2>/dev/null || true)
  case "$origin" in https://*) properties+=(-p:RepositoryUrl="${origin%.git}") ;; esac
  [ -n "${ASLCUDA_VERSION_SUFFIX:-}" ] && properties+=(-p:VersionSuffix="$ASLCUDA_VERSION_SUFFIX")
  mkdir -p "$output"
  for project in src/AslCuda/AslCuda.csproj src/AslCuda.TorchSharp/AslCuda.TorchSharp.csproj; do
    dotnet pack "$project" -c Release -o "$output" "${properties[@]}"
  done
}

# Fashion-MNIST for ./build.sh train-images: Debian's dataset-fashion-mnist (main) puts the IDX files in
# /usr/share/datasets/fashion-mnist. Elsewhere, pass --dataset-dir with a folder holding the four IDX files.
ensure_fashion_mnist() {
  [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build.sh: installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null ||
      echo "build.sh: could not install dataset-fashion-mnist; pass --dataset-dir DIR with the four Fashion-MNIST IDX files" >&2
  else
    echo "build.sh: Fashion-MNIST not found in /usr/share/datasets/fashion-mnist. Install it (Debian: apt-get install" \
         "dataset-fashion-mnist) or pass --dataset-dir DIR with the four IDX files." >&2
  fi
}

case "${1:-test}" in
  test)
    ensure_nvrtc
    ensure_patch_tools
    ensure_cxx
    dotnet build AslCuda.sln -c Release
    rm -rf "$results_dir"
    if have_cuda_driver; then
      # A real GPU (or ASLCUDA_CUDA_DRIVER_PATH set by the caller): every test in one run.
      dotnet test AslCuda.sln -c Release --no-build --results-directory "$results_dir" --logger "trx;LogFileName=tests.trx"
    else
      # No GPU: the NVRTC compile tests with the real NVRTC, then the GPU tests and the GPU check's correctness
      # part on the emulated device (tests/EmulatedDevice), in other processes: one process cannot load both NVRTCs.
      status=0
      make -s -C tests/EmulatedDevice all sanitizers
      dotnet test AslCuda.sln -c Release --no-build --filter "TestCategory!=GpuDevice" \
        --results-directory "$results_dir" --logger "trx;LogFileName=tests.trx" || status=1
      fake=$PWD/tests/EmulatedDevice/build/libaslcuda-fake-cuda.so
      export ASLCUDA_CUDA_DRIVER_PATH=$fake ASLCUDA_NVRTC_PATH=$fake ASLCUDA_SYNC=1
      export ASLCUDA_KERNEL_CACHE=$PWD/artifacts/emulated-kernel-cache   # images of the fake NVRTC, kept apart from real ones
      export ASLCUDA_EMULATOR_CACHE=${ASLCUDA_EMULATOR_CACHE:-$PWD/artifacts/emulator-cache}
      dotnet test tests/AslCuda.Tests -c Release --no-build --filter "TestCategory=GpuDevice" \
        --results-directory "$results_dir" --logger "trx;LogFileName=emulated-gpu.trx" || status=1
      echo "== bench/gpu correctness check on the emulated device"
      dotnet bench/gpu/AslCuda.GpuCheck/bin/Release/net10.0/AslCuda.GpuCheck.dll check | tee "$results_dir/gpu-check.txt"
      [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
      exit $status
    fi
    ;;
  demo)
    ensure_patch_tools
    dotnet run -c Release --project examples/AslCuda.Demo -- "${@:2}"
    ;;
  bench)
    ensure_patch_tools
    dotnet run -c Release --project bench/AslCuda.Bench -- --filter "${2:-*}" "${@:3}"
    ;;
  train)
    ensure_patch_tools
    dotnet run -c Release --project examples/AslCuda.Train -- "${@:2}"
    ;;
  train-images)
    ensure_patch_tools
    ensure_fashion_mnist
    dotnet run -c Release --project examples/AslCuda.Train -- --data images "${@:2}"
    ;;
  gpu)
    bash bench/gpu/publish.sh
    ;;
  pack)
    pack_packages "${ASLCUDA_PACKAGE_OUTPUT:-artifacts/packages}"
    ;;
  *)
    echo "usage: ./build.sh [test|demo|bench [filter]|train [args]|train-images [args]|gpu|pack]" >&2
    exit 2
    ;;
esac
