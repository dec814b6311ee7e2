namespace AslCuda.Cuda;

/// <summary>One NVRTC library found on this machine: where it was loaded from and the version it reports.</summary>
internal sealed record NvrtcCandidate(string Location, Version Version);

/// <summary>
/// The NVRTC to use and why. <see cref="Chosen"/> is null when none fits, and <see cref="Reason"/> then says what
/// was found, what the driver supports and what to do. <see cref="PtxLoadable"/> is false when the driver loads
/// this NVRTC's CUBIN but not its PTX (an NVRTC newer than the driver within the same major release).
/// </summary>
internal sealed record NvrtcChoice(NvrtcCandidate? Chosen, bool PtxLoadable, string Reason);

/// <summary>
/// Which NVRTC a CUDA driver can use, as a pure function of the driver's CUDA version and the NVRTC versions found.
/// </summary>
/// <remarks>
/// The rules, from NVIDIA's CUDA Compatibility guide (docs.nvidia.com/deploy/cuda-compatibility: "Binary
/// compatibility" and "Minor Version Compatibility") and the CUDA C++ Best Practices Guide ("Dynamic code
/// generation"):
/// <list type="bullet">
/// <item>Drivers are backward compatible: a driver for CUDA D loads PTX and CUBIN from any NVRTC of version &lt;= D.</item>
/// <item>PTX is JIT-compiled by the driver, which rejects a PTX ISA newer than it knows
///   (CUDA_ERROR_UNSUPPORTED_PTX_VERSION): PTX from NVRTC N needs a driver for CUDA &gt;= N.</item>
/// <item>Minor version compatibility (CUDA 11 and later): code built by a toolkit of major release M runs on any
///   driver of the same major release M (from the release's minimum driver, 450.80.02 for 11.x, 525 for 12.x,
///   580 for 13.x, which every driver reporting CUDA M.x is). For NVRTC this covers CUBIN only, which NVRTC
///   emits from 11.1 on; not PTX (rule above).</item>
/// <item>Nothing crosses a major release upwards: the output of NVRTC 12.x does not load on a CUDA 11 driver.</item>
/// </list>
/// So: prefer the newest NVRTC &lt;= the driver (both outputs load); else the newest NVRTC of the driver's major
/// release (11.1 or later), CUBIN only; else fail, naming both versions and the fix. Without a driver (compile
/// only, as in CI) nothing constrains the choice: the newest NVRTC wins.
/// </remarks>
internal static class NvrtcSelection
{
    /// <summary>The first NVRTC that emits CUBIN (nvrtcGetCUBIN appeared in CUDA 11.1).</summary>
    private static readonly Version FirstWithCubin = new(11, 1);

    /// <summary>The CUDA version of a <c>cuDriverGetVersion</c> value (1000 * major + 10 * minor, e.g. 12040 is 12.4).</summary>
    public static Version DriverCudaVersion(int cuDriverGetVersion) => new(cuDriverGetVersion / 1000, cuDriverGetVersion % 1000 / 10);

    public static NvrtcChoice Choose(Version? driver, IReadOnlyList<NvrtcCandidate> candidates)
    {
        if (candidates.Count == 0) return new NvrtcChoice(null, false, "no NVRTC library was found");
        string found = string.Join(", ", candidates.Select(c => $"{c.Version} ({c.Location})"));
        if (driver is null)
        {
            var newest = Newest(candidates)!;
            return new NvrtcChoice(newest, true, $"NVRTC {newest.Version} from {newest.Location}: the newest found, no CUDA driver to match");
        }

        if (Newest(candidates.Where(c => c.Version <= driver)) is { } compatible)
            return new NvrtcChoice(compatible, true,
                $"NVRTC {compatible.Version} from {compatible.Location}: the newest found that is not newer than the CUDA {driver} driver");

        if (Newest(candidates.Where(c => c.Version.Major == driver.Major && c.Version >= FirstWithCubin)) is { } sameMajor)
            return new NvrtcChoice(sameMajor, false,
                $"NVRTC {sameMajor.Version} from {sameMajor.Location}: newer than the CUDA {driver} driver, whose minor version " +
                "compatibility loads its CUBIN but not its PTX");

        var oldest = candidates.MinBy(c => c.Version)!;
        return new NvrtcChoice(null, false,
            $"the CUDA driver supports CUDA {driver}, and every NVRTC found is newer ({found}): the driver cannot load " +
            $"what NVRTC {oldest.Version} compiles (CUBIN needs a CUDA {oldest.Version.Major}.x driver, PTX a CUDA " +
            $"{oldest.Version} one). Fix: update the NVIDIA driver to one for CUDA {oldest.Version} or later, or install an " +
            $"NVRTC of CUDA {driver.Major}.x, at most {driver} (CUDA toolkit, or pip nvidia-cuda-nvrtc-cu{driver.Major}), " +
            "and set ASLCUDA_NVRTC_PATH to its library");
    }

    /// <summary>
    /// Where to look for NVRTC, in order (the choice itself goes by version, so the order only breaks ties):
    /// the NVRTC already in the process; the folder of the loaded libtorch, where PyTorch's and TorchSharp's CUDA
    /// builds bundle it under a hashed name (libnvrtc-&lt;hash&gt;.so.12); PyTorch's pip layout next to that folder
    /// (site-packages/nvidia/cuda_nvrtc/lib for CUDA 12, nvidia/cu13/lib for 13) and in the active Python
    /// environment; the application's folder (where a TorchSharp CUDA package's files land before libtorch loads);
    /// the CUDA toolkit's folder; then the system's library names, left to the loader's search path.
    /// </summary>
    /// <param name="loadedModules">Full paths of the libraries loaded in this process.</param>
    /// <param name="applicationDirectory">The application's base folder.</param>
    /// <param name="environment">Reads an environment variable.</param>
    /// <param name="systemNames">Library names for the loader (<see cref="NativeLibraries.Nvrtc"/>'s candidates).</param>
    public static IReadOnlyList<string> SearchLocations(IEnumerable<string> loadedModules, string applicationDirectory,
        Func<string, string?> environment, IReadOnlyList<string> systemNames)
    {
        var modules = loadedModules.ToArray();
        var directories = new List<string>();
        var libtorchDirectories = modules.Where(m => IsLibtorch(Path.GetFileName(m))).Select(Path.GetDirectoryName).OfType<string>().Distinct().ToArray();
        directories.AddRange(libtorchDirectories);
        foreach (string torchLib in libtorchDirectories)
            if (Path.GetDirectoryName(Path.GetDirectoryName(torchLib)) is { } sitePackages)   // site-packages/torch/lib
                directories.AddRange(PipNvrtcDirectories(sitePackages));
        foreach (string prefix in new[] { environment("VIRTUAL_ENV"), environment("CONDA_PREFIX") }.OfType<string>().Where(p => p.Length > 0))
            directories.AddRange(SitePackages(prefix).SelectMany(PipNvrtcDirectories));
        directories.Add(applicationDirectory);
        directories.Add(Path.Combine(applicationDirectory, "runtimes", OperatingSystem.IsWindows() ? "win-x64" : "linux-x64", "native"));
        foreach (string variable in new[] { "CUDA_PATH", "CUDA_HOME" })
            if (environment(variable) is { Length: > 0 } toolkit)
                directories.Add(Path.Combine(toolkit, OperatingSystem.IsWindows() ? "bin" : "lib64"));

        var locations = new List<string>();
        locations.AddRange(modules.Where(m => IsNvrtc(Path.GetFileName(m))));
        foreach (string directory in directories.Distinct())
        {
            if (!Directory.Exists(directory)) continue;
            locations.AddRange(Directory.EnumerateFiles(directory).Where(f => IsNvrtc(Path.GetFileName(f))).Order(StringComparer.Ordinal));
        }
        locations.AddRange(systemNames);
        return locations.Distinct().ToArray();
    }

    /// <summary>NVRTC itself, not its builtins library (libnvrtc-builtins*, nvrtc-builtins64_*.dll), whatever the hash
    /// or version suffix: libnvrtc.so, libnvrtc.so.12, libnvrtc-1a2b3c4d.so.12, nvrtc64_120_0.dll.</summary>
    internal static bool IsNvrtc(string fileName) =>
        OperatingSystem.IsWindows()
            ? fileName.StartsWith("nvrtc64_", StringComparison.OrdinalIgnoreCase) && fileName.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            : (fileName.StartsWith("libnvrtc.so", StringComparison.Ordinal) || fileName.StartsWith("libnvrtc-", StringComparison.Ordinal))
              && !fileName.StartsWith("libnvrtc-builtins", StringComparison.Ordinal) && fileName.Contains(".so", StringComparison.Ordinal);

    private static bool IsLibtorch(string fileName) =>
        OperatingSystem.IsWindows()
            ? fileName.Equals("torch_cuda.dll", StringComparison.OrdinalIgnoreCase) || fileName.Equals("torch.dll", StringComparison.OrdinalIgnoreCase)
            : fileName.StartsWith("libtorch_cuda.so", StringComparison.Ordinal) || fileName.StartsWith("libtorch.so", StringComparison.Ordinal);

    private static IEnumerable<string> PipNvrtcDirectories(string sitePackages) =>
        OperatingSystem.IsWindows()
            ? [Path.Combine(sitePackages, "nvidia", "cu13", "bin", "x86_64"), Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "bin")]
            : [Path.Combine(sitePackages, "nvidia", "cu13", "lib"), Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib")];

    /// <summary>site-packages of a Python environment: Lib/site-packages on Windows, lib/python3.X/site-packages elsewhere.</summary>
    private static IEnumerable<string> SitePackages(string prefix)
    {
        if (OperatingSystem.IsWindows()) return [Path.Combine(prefix, "Lib", "site-packages")];
        string lib = Path.Combine(prefix, "lib");
        return Directory.Exists(lib)
            ? Directory.EnumerateDirectories(lib, "python3*").Order(StringComparer.Ordinal).Select(d => Path.Combine(d, "site-packages"))
            : [];
    }

    private static NvrtcCandidate? Newest(IEnumerable<NvrtcCandidate> candidates) => candidates.MaxBy(c => c.Version);
}
