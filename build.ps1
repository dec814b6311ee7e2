# AslCuda build entry point for Windows / PowerShell (same commands as build.sh).
#   ./build.ps1 test | demo | bench [filter] | train [args] | train-images [args] | gpu | pack
#   pack: NuGet packages AslCuda and AslCuda.TorchSharp (+ .snupkg) into artifacts/packages ($env:ASLCUDA_PACKAGE_OUTPUT;
#         $env:ASLCUDA_VERSION_SUFFIX makes a pre-release)
param([string]$Command = "test", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = "1"
$results = if ($env:ASLCUDA_TEST_RESULTS) { $env:ASLCUDA_TEST_RESULTS } else { "artifacts/test-results" }

function Invoke-Checked([scriptblock]$Block) {
    & $Block
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

switch ($Command) {
    "test" {
        $nvrtc = Get-Command "nvrtc64_*.dll" -ErrorAction SilentlyContinue
        if (-not $nvrtc -and -not $env:ASLCUDA_NVRTC_PATH) {
            Write-Warning "NVRTC not found: install the CUDA toolkit (nvrtc64_*.dll on PATH) or set ASLCUDA_NVRTC_PATH; NVRTC tests will be ignored."
        }
        Invoke-Checked { dotnet build AslCuda.sln -c Release }
        if (Test-Path $results) { Remove-Item -Recurse -Force $results }
        Invoke-Checked { dotnet test AslCuda.sln -c Release --no-build --results-directory $results --logger "trx;LogFileName=tests.trx" }
    }
    "demo" { Invoke-Checked { dotnet run -c Release --project examples/AslCuda.Demo -- @Rest } }
    "bench" {
        $filter = if ($Rest.Count -gt 0) { $Rest[0] } else { "*" }
        Invoke-Checked { dotnet run -c Release --project bench/AslCuda.Bench -- --filter $filter }
    }
    "train" { Invoke-Checked { dotnet run -c Release --project examples/AslCuda.Train -- @Rest } }
    # Fashion-MNIST is not installed here (build.sh installs Debian's package): pass --dataset-dir with the four IDX files.
    "train-images" { Invoke-Checked { dotnet run -c Release --project examples/AslCuda.Train -- --data images @Rest } }
    "pack" {
        $output = if ($env:ASLCUDA_PACKAGE_OUTPUT) { $env:ASLCUDA_PACKAGE_OUTPUT } else { "artifacts/packages" }
        $commit = git rev-parse HEAD 2>$null
        $properties = @("-p:ContinuousIntegrationBuild=true", "-p:RepositoryCommit=$(if ($commit) { $commit } else { 'unknown' })")
        $origin = git remote get-url origin 2>$null
        if ($origin -like "https://*") { $properties += "-p:RepositoryUrl=$($origin -replace '\.git$', '')" }
        if ($env:ASLCUDA_VERSION_SUFFIX) { $properties += "-p:VersionSuffix=$env:ASLCUDA_VERSION_SUFFIX" }
        foreach ($project in "src/AslCuda/AslCuda.csproj", "src/AslCuda.TorchSharp/AslCuda.TorchSharp.csproj") {
            Invoke-Checked { dotnet pack $project -c Release -o $output @properties }
        }
    }
    "gpu" { Write-Error "the GPU check is published for linux-x64 by build.sh gpu (bash bench/gpu/publish.sh)" }
    default { Write-Error "usage: ./build.ps1 [test|demo|bench [filter]|train [args]|train-images [args]|gpu|pack]" }
}
