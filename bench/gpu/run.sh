#!/usr/bin/env bash
# The one-call GPU check, run on the GPU machine (needs the output of bench/gpu/publish.sh next to this
# script or in bench/gpu/publish/, the NVIDIA driver, and python3 with PyTorch for the baseline):
#   (a) device, driver and NVRTC versions; (b) correctness checks, PASS/FAIL per check;
#   (c) kernel timings with CUDA events; (d) the paper's PyTorch formula, eager and torch.compile (two
#   shapes), value comparison and the summary table $OUT/gpu-<date>.md (OUT defaults to ./gpu-results);
#   (e) compute-sanitizer memcheck, racecheck and synccheck on three small cases, each optional and
#   limited to SANITIZER_TIMEOUT seconds (default 30).
# Every result is written under $OUT as soon as it exists (info.txt, check.txt, ours.json, the table row by
# row, sanitizer-*.txt), so a call cut short keeps what it measured. Without PyTorch, step (d) is skipped.
# On an emulated device (tests/EmulatedDevice) the check shrinks its cases and shapes by itself.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/AslCuda.GpuCheck" ]; then publish=$here; else publish=$here/publish; fi
exe=$publish/AslCuda.GpuCheck
[ -f "$exe" ] && [ -x "$exe" ] || { echo "missing $exe: run bench/gpu/publish.sh on a machine with .NET first"; exit 2; }
out=${OUT:-$PWD/gpu-results}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date -u +%Y-%m-%d)
export ASLCUDA_KERNEL_CACHE=${ASLCUDA_KERNEL_CACHE:-$work/kernel-cache}

# NVRTC: the override if set, else the copy PyTorch's CUDA wheels installed, else the system's.
if [ -z "${ASLCUDA_NVRTC_PATH:-}" ]; then
    found=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
roots = list(site.getsitepackages()) + [site.getusersitepackages()]
try:
    import torch
    roots.append(os.path.dirname(os.path.dirname(torch.__file__)))
except Exception:
    pass
hits = set()
for root in roots:
    hits.update(glob.glob(os.path.join(root, "nvidia", "**", "libnvrtc.so*"), recursive=True))
    hits.update(glob.glob(os.path.join(root, "torch", "lib", "libnvrtc*.so*")))
hits = sorted(h for h in hits if "builtins" not in os.path.basename(h) and "alt" not in os.path.basename(h))
print(hits[-1] if hits else "")
PY
)
    for candidate in "$found" /usr/local/cuda/lib64/libnvrtc.so; do
        if [ -n "$candidate" ] && [ -e "$candidate" ]; then export ASLCUDA_NVRTC_PATH=$candidate; break; fi
    done
fi
# NVRTC loads its builtins library by name from beside itself.
if [ -n "${ASLCUDA_NVRTC_PATH:-}" ]; then
    export LD_LIBRARY_PATH="$(dirname "$ASLCUDA_NVRTC_PATH")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

echo "== (a) device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null
"$exe" info | tee "$out/info.txt"

echo "== (b) correctness against the float64 oracle"
"$exe" check | tee "$out/check.txt"
check_status=${PIPESTATUS[0]}

echo "== (c) kernel timings"
"$exe" bench "$out/ours.json"
bench_status=$?

echo "== (d) PyTorch baseline (paper formula, eager and torch.compile)"
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    python3 "$here/baseline.py" prepare "$work" \
        && "$exe" values "$work" \
        && python3 "$here/baseline.py" report "$work" "$out" "$out/gpu-$stamp.md"
    baseline_status=$?
    cat "$out/gpu-$stamp.md" 2>/dev/null
else
    echo "skipped: no python3 with a CUDA-enabled PyTorch"
    baseline_status=0
fi

echo "== (e) compute-sanitizer (optional)"
if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in memcheck racecheck synccheck; do
        timeout "${SANITIZER_TIMEOUT:-30}" compute-sanitizer --tool "$tool" --error-exitcode 3 "$exe" sanitize > "$out/sanitizer-$tool.txt" 2>&1
        echo "$tool: exit $? (124: timed out) -> $out/sanitizer-$tool.txt"
    done
else
    echo "skipped: compute-sanitizer not on PATH"
fi

echo "results in $out; correctness exit $check_status, timings exit $bench_status, baseline exit $baseline_status"
[ "$check_status" -eq 0 ] && [ "$bench_status" -eq 0 ] && [ "$baseline_status" -eq 0 ]
