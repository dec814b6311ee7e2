using System.Reflection;
using System.Runtime.InteropServices;

namespace AslCuda.Cuda;

/// <summary>A native library found by probing: its file names per platform, the variable that overrides
/// them with one path, and what to tell a user who has none of them.</summary>
internal sealed record NativeLibrarySpec(string ImportName, string OverrideVariable, string[] LinuxNames, string[] WindowsNames, string InstallHint)
{
    /// <summary>A function every genuine copy exports; a file without it is some other library.</summary>
    public string RequiredExport { get; init; } = "";

    public IReadOnlyList<string> Candidates => OperatingSystem.IsWindows() ? WindowsNames : LinuxNames;
}

/// <summary>
/// Loads libcuda and NVRTC (the [LibraryImport] declarations name only the logical
/// <see cref="NativeLibrarySpec.ImportName"/>), so that one build works with whatever CUDA version is installed.
/// libcuda is probed by its usual names. NVRTC is matched to the driver: every NVRTC found is asked its version and
/// <see cref="NvrtcSelection"/> picks the one whose output the driver can load. Each library is loaded once per
/// process; a failure is remembered and rethrown.
/// </summary>
internal static class NativeLibraries
{
    public static readonly NativeLibrarySpec Driver = new(
        "aslcuda-cuda-driver", "ASLCUDA_CUDA_DRIVER_PATH",
        ["libcuda.so.1", "libcuda.so"],
        ["nvcuda.dll"],
        "The CUDA driver comes with the NVIDIA display driver (Linux: package nvidia-driver / libcuda1, or the " +
        "driver installer from nvidia.com; containers need the NVIDIA container toolkit).")
    { RequiredExport = "cuInit" };

    public static readonly NativeLibrarySpec Nvrtc = new(
        "aslcuda-nvrtc", "ASLCUDA_NVRTC_PATH",
        ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
        ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
        "NVRTC comes with the CUDA toolkit, with PyTorch and TorchSharp CUDA builds (beside libtorch), the pip package " +
        "nvidia-cuda-nvrtc-cu12 (or nvidia-cuda-nvrtc for CUDA 13), or Debian's libnvrtc11.2 (non-free); take one not newer " +
        "than the driver's CUDA version, or set the variable to the library's full path.")
    { RequiredExport = "nvrtcVersion" };

    private static readonly Lazy<nint> DriverHandle = new(() => LoadOrThrow(Driver));
    private static readonly Lazy<(nint Handle, NvrtcChoice Choice)> NvrtcLoaded = new(LoadNvrtcForDriver);

    static NativeLibraries() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);

    /// <summary>Handle of libcuda; throws <see cref="CudaLibraryNotFoundException"/> when it cannot be loaded.</summary>
    public static nint LoadDriver() => DriverHandle.Value;

    /// <summary>Handle of NVRTC; throws <see cref="CudaLibraryNotFoundException"/> when none can be loaded or none
    /// fits the driver.</summary>
    public static nint LoadNvrtc() => NvrtcLoaded.Value.Handle;

    /// <summary>Which NVRTC was loaded and why (loads it first).</summary>
    public static NvrtcChoice NvrtcChoice => NvrtcLoaded.Value.Choice;

    /// <summary>The CUDA version of the driver, or null when libcuda does not load. cuDriverGetVersion needs no cuInit.</summary>
    public static Version? DriverCudaVersion()
    {
        try
        {
            LoadDriver();
        }
        catch (CudaLibraryNotFoundException)
        {
            return null;
        }
        return Cuda.Driver.cuDriverGetVersion(out int version) == 0 ? NvrtcSelection.DriverCudaVersion(version) : null;
    }

    /// <summary>The outcome of <see cref="SelectNvrtc"/>: the choice, the handle of the chosen library (0 when
    /// none), and the locations that did not load or answer, with the loader's words.</summary>
    public readonly record struct NvrtcSelectionResult(NvrtcChoice Choice, nint Handle, IReadOnlyList<string> Attempts);

    /// <summary>
    /// Loads each location, asks it its version, lets <see cref="NvrtcSelection.Choose"/> pick one for
    /// <paramref name="driver"/> and unloads the others. The same file reached by two names counts once.
    /// </summary>
    public static NvrtcSelectionResult SelectNvrtc(Version? driver, IEnumerable<string> locations)
    {
        var loaded = new List<(nint Handle, NvrtcCandidate Candidate)>();
        var attempts = new List<string>();
        foreach (string location in locations)
        {
            nint handle;
            try
            {
                handle = NativeLibrary.Load(location);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                attempts.Add($"{location}: {LoaderError(e.Message)}");
                continue;
            }
            if (loaded.Any(l => l.Handle == handle))
            {
                NativeLibrary.Free(handle);    // the loader counts each load; keep one
                continue;
            }
            int status = Cuda.Nvrtc.nvrtcVersion(handle, out int major, out int minor);
            if (status != 0)
            {
                attempts.Add($"{location}: nvrtcVersion failed ({status})");
                NativeLibrary.Free(handle);
                continue;
            }
            loaded.Add((handle, new NvrtcCandidate(location, new Version(major, minor))));
        }
        var choice = NvrtcSelection.Choose(driver, loaded.Select(l => l.Candidate).ToArray());
        nint chosen = 0;
        foreach (var (handle, candidate) in loaded)
        {
            if (ReferenceEquals(candidate, choice.Chosen)) chosen = handle;
            else NativeLibrary.Free(handle);
        }
        return new NvrtcSelectionResult(choice, chosen, attempts);
    }

    /// <summary>Where this process looks for NVRTC (see <see cref="NvrtcSelection.SearchLocations"/>).</summary>
    public static IReadOnlyList<string> NvrtcSearchLocations() =>
        NvrtcSelection.SearchLocations(LoadedModules(), AppContext.BaseDirectory, Environment.GetEnvironmentVariable, Nvrtc.Candidates);

    /// <summary>ASLCUDA_NVRTC_PATH, when set, is used alone and as it is; else the NVRTC that fits the driver.</summary>
    private static (nint, NvrtcChoice) LoadNvrtcForDriver()
    {
        Func<string, string?> environment = Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(environment(Nvrtc.OverrideVariable)))
        {
            var probe = Probe(Nvrtc, environment);
            if (probe.Handle == 0) throw new CudaLibraryNotFoundException(DescribeFailure(Nvrtc, probe, environment));
            Check(Cuda.Nvrtc.nvrtcVersion(probe.Handle, out int major, out int minor), probe.LoadedFrom!);
            var candidate = new NvrtcCandidate(probe.LoadedFrom!, new Version(major, minor));
            var driver = DriverCudaVersion();
            var fit = NvrtcSelection.Choose(driver, [candidate]);
            string reason = $"NVRTC {candidate.Version} from {Nvrtc.OverrideVariable}={candidate.Location}" +
                            (fit.Chosen is null ? $" (used as set, although {fit.Reason})" : "");
            return (probe.Handle, new NvrtcChoice(candidate, fit.Chosen is null || fit.PtxLoadable, reason));
        }

        var selection = SelectNvrtc(DriverCudaVersion(), NvrtcSearchLocations());
        if (selection.Handle != 0) return (selection.Handle, selection.Choice);
        string tried = selection.Attempts.Count == 0 ? "" : "\n  " + string.Join("\n  ", selection.Attempts);
        throw new CudaLibraryNotFoundException(
            $"{Nvrtc.ImportName}: {selection.Choice.Reason} ({Nvrtc.OverrideVariable} is not set).{tried}\n{Nvrtc.InstallHint}");

        static void Check(int status, string location)
        {
            if (status != 0) throw new CudaLibraryNotFoundException($"{Nvrtc.ImportName}: {location} loaded, but nvrtcVersion failed ({status}); is it NVRTC?");
        }
    }

    /// <summary>Full paths of the libraries mapped into this process (libtorch's folder tells where its NVRTC is).</summary>
    private static IEnumerable<string> LoadedModules()
    {
        try
        {
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            return process.Modules.Cast<System.Diagnostics.ProcessModule>().Select(m => m.FileName).OfType<string>().ToArray();
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return [];    // no module list (restricted /proc): the other locations still apply
        }
    }

    /// <summary>The outcome of one probe: the handle (0 when nothing loaded), the file it came from and
    /// each attempt with its error.</summary>
    public readonly record struct ProbeResult(nint Handle, string? LoadedFrom, IReadOnlyList<string> Attempts);

    /// <summary>Tries the override path alone when the variable is set (a wrong override is an error, not a
    /// reason to pick up another copy), else each candidate name in order.</summary>
    public static ProbeResult Probe(NativeLibrarySpec spec, Func<string, string?> environment)
    {
        var attempts = new List<string>();
        string? overridePath = environment(spec.OverrideVariable);
        IEnumerable<string> names = string.IsNullOrWhiteSpace(overridePath) ? spec.Candidates : [overridePath];
        foreach (string name in names)
        {
            try
            {
                nint handle = NativeLibrary.Load(name);
                if (spec.RequiredExport.Length == 0 || NativeLibrary.TryGetExport(handle, spec.RequiredExport, out _))
                    return new ProbeResult(handle, name, attempts);
                NativeLibrary.Free(handle);
                attempts.Add($"{name}: loads, but is not {spec.ImportName} (it does not export {spec.RequiredExport})");
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                attempts.Add($"{name}: {LoaderError(e.Message)}");
            }
        }
        return new ProbeResult(0, null, attempts);
    }

    public static string DescribeFailure(NativeLibrarySpec spec, ProbeResult result, Func<string, string?> environment)
    {
        string? overridePath = environment(spec.OverrideVariable);
        string what = string.IsNullOrWhiteSpace(overridePath)
            ? $"none of {string.Join(", ", spec.Candidates)} could be loaded ({spec.OverrideVariable} is not set)"
            : $"{spec.OverrideVariable}={overridePath} could not be loaded";
        return $"{spec.ImportName}: {what}.\n  " + string.Join("\n  ", result.Attempts) + "\n" + spec.InstallHint;
    }

    private static nint LoadOrThrow(NativeLibrarySpec spec)
    {
        var result = Probe(spec, Environment.GetEnvironmentVariable);
        return result.Handle != 0
            ? result.Handle
            : throw new CudaLibraryNotFoundException(DescribeFailure(spec, result, Environment.GetEnvironmentVariable));
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == Driver.ImportName ? LoadDriver()
        : libraryName == Nvrtc.ImportName ? LoadNvrtc()
        : 0;

    /// <summary>Makes sure the resolver is registered before the first call into a bound library.</summary>
    public static void EnsureResolver() { }

    /// <summary>The loader's own words (dlerror / Win32 text), which .NET puts on the last line after its generic advice.</summary>
    private static string LoaderError(string message) =>
        message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? message;
}
