#!/usr/bin/env bash
# Publishes the GPU check self-contained for linux-x64 into bench/gpu/publish/ (git-ignored), so that a GPU
# machine without .NET can run it: carry bench/gpu/publish there and run bench/gpu/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$here/publish"
dotnet publish "$here/AslCuda.GpuCheck/AslCuda.GpuCheck.csproj" -c Release -r linux-x64 --self-contained \
    -p:PublishTrimmed=true -o "$here/publish" --nologo -v quiet
cp "$here/run.sh" "$here/baseline.py" "$here/publish/"
echo "published to $here/publish ($(du -sh "$here/publish" | cut -f1))"
