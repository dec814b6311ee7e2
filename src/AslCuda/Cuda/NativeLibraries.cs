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
/// Loads libcuda and NVRTC by probing their usual file names (the [LibraryImport] declarations name only
/// the logical <see cref="NativeLibrarySpec.ImportName"/>), so that one build works with whatever CUDA
/// version is installed. Each library is probed once per process; a failure is remembered and rethrown.
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
        ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"],
        ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
        "NVRTC comes with the CUDA toolkit, the pip package nvidia-cuda-nvrtc-cu12 (or -cu13) that PyTorch " +
        "installs, or Debian's libnvrtc11.2 (non-free); or set the variable to the library's full path.")
    { RequiredExport = "nvrtcVersion" };

    private static readonly Lazy<nint> DriverHandle = new(() => LoadOrThrow(Driver));
    private static readonly Lazy<nint> NvrtcHandle = new(() => LoadOrThrow(Nvrtc));

    static NativeLibraries() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);

    /// <summary>Handle of libcuda; throws <see cref="CudaLibraryNotFoundException"/> when it cannot be loaded.</summary>
    public static nint LoadDriver() => DriverHandle.Value;

    /// <summary>Handle of NVRTC; throws <see cref="CudaLibraryNotFoundException"/> when it cannot be loaded.</summary>
    public static nint LoadNvrtc() => NvrtcHandle.Value;

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
