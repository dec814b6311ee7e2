#!/usr/bin/env bash
# Runs the tests that draw random inputs (TestData.NewRandom) again and again with fresh seeds, to find inputs
# that break a tolerance. CI uses one fixed seed per test (from its name) and stays deterministic; this explores.
#   bash tests/seed-sweep.sh [runs, default 20]      (after ./build.sh test, or a Release build of the solution)
# Every failure is listed with the ASLCUDA_TEST_SEED that replays it.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
results=$(mktemp -d /tmp/aslcuda-seed-sweep.XXXXXX)
classes=$(grep -rl --include='*.cs' 'TestData.NewRandom()' tests/AslCuda.Tests | xargs -n1 basename | sed 's/\.cs$//' | sort -u)
filter=$(echo "$classes" | sed 's/^/FullyQualifiedName~./; s/$/./' | paste -sd'|')
failed_runs=0
for run in $(seq 1 "$runs"); do
  ASLCUDA_TEST_SEED=random dotnet test tests/AslCuda.Tests -c Release --no-build --filter "$filter" \
    --results-directory "$results/$run" --logger "trx;LogFileName=sweep.trx" > "$results/$run.log" 2>&1
  if grep -q 'outcome="Failed"' "$results/$run/sweep.trx" 2>/dev/null || [ ! -f "$results/$run/sweep.trx" ]; then
    failed_runs=$((failed_runs + 1))
    echo "run $run:"; python3 .ci/failures.py "$results/$run/sweep.trx" 2>/dev/null || tail -n 20 "$results/$run.log"
  fi
  echo "run $run of $runs: $(grep -m 1 -E '^(Passed|Failed)!' "$results/$run.log")"
done
echo "$failed_runs of $runs runs had failures (logs in $results)"
[ "$failed_runs" -eq 0 ]
