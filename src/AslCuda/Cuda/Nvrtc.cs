using System.Runtime.InteropServices;
using System.Text;

namespace AslCuda.Cuda;

/// <summary>
/// The NVRTC functions this library uses, one binding each, the one place that turns an nvrtcResult into
/// an <see cref="NvrtcException"/>, and <see cref="Compile"/>, which runs one program through them.
/// </summary>
internal static unsafe partial class Nvrtc
{
    private const string Library = "aslcuda-nvrtc";

    static Nvrtc() => NativeLibraries.EnsureResolver();

    /// <summary>Throws an <see cref="NvrtcException"/> with NVRTC's error name (and the log when given).</summary>
    public static void Check(int status, string call, string log = "")
    {
        if (status == 0) return;
        byte* name = nvrtcGetErrorString(status);
        throw new NvrtcException(call, status, name != null ? Marshal.PtrToStringUTF8((nint)name)! : $"nvrtcResult {status}", log);
    }

    /// <summary>Bound through the library's handle rather than [LibraryImport], because the version is what decides
    /// which of several NVRTC libraries to use (<see cref="NativeLibraries.SelectNvrtc"/>), before one is chosen.</summary>
    public static int nvrtcVersion(nint library, out int major, out int minor)
    {
        var function = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(library, nameof(nvrtcVersion));
        int maj, min;
        int status = function(&maj, &min);
        (major, minor) = (maj, min);
        return status;
    }

    [LibraryImport(Library)] public static partial int nvrtcGetNumSupportedArchs(out int count);
    [LibraryImport(Library)] public static partial int nvrtcGetSupportedArchs(int* architectures);
    [LibraryImport(Library)] public static partial byte* nvrtcGetErrorString(int result);
    [LibraryImport(Library)]
    public static partial int nvrtcCreateProgram(out nint program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(Library)] public static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(Library)] public static partial int nvrtcGetProgramLogSize(nint program, out nuint size);
    [LibraryImport(Library)] public static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Library)] public static partial int nvrtcGetPTXSize(nint program, out nuint size);
    [LibraryImport(Library)] public static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Library)] public static partial int nvrtcGetCUBINSize(nint program, out nuint size);
    [LibraryImport(Library)] public static partial int nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(Library)] public static partial int nvrtcDestroyProgram(ref nint program);

    /// <summary>NVRTC's version, e.g. (11, 8); loads the library first.</summary>
    public static Version Version
    {
        get
        {
            Check(nvrtcVersion(NativeLibraries.LoadNvrtc(), out int major, out int minor), nameof(nvrtcVersion));
            return new Version(major, minor);
        }
    }

    /// <summary>The real architectures (e.g. 75, 80, 90) this NVRTC can compile for.</summary>
    public static int[] SupportedArchitectures()
    {
        NativeLibraries.LoadNvrtc();
        Check(nvrtcGetNumSupportedArchs(out int count), nameof(nvrtcGetNumSupportedArchs));
        var architectures = new int[count];
        fixed (int* a = architectures) Check(nvrtcGetSupportedArchs(a), nameof(nvrtcGetSupportedArchs));
        return architectures;
    }

    /// <summary>What one compile produced: PTX (zero-terminated text), CUBIN when the options named a real
    /// sm_XY architecture (else null), and the log, which is empty when there was no warning.</summary>
    public sealed record Output(byte[] Ptx, byte[]? Cubin, string Log);

    /// <summary>
    /// Compiles <paramref name="source"/> with the given headers (include name to text) and options.
    /// A failed compile throws an <see cref="NvrtcException"/> carrying the log.
    /// </summary>
    public static Output Compile(string source, string name, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string> options)
    {
        NativeLibraries.LoadNvrtc();
        RejectUnloadablePtx(options);
        var pinned = new List<GCHandle>();
        try
        {
            byte* Utf8(string text)
            {
                var handle = GCHandle.Alloc(Encoding.UTF8.GetBytes(text + '\0'), GCHandleType.Pinned);
                pinned.Add(handle);
                return (byte*)handle.AddrOfPinnedObject();
            }
            var headerTexts = stackalloc byte*[headers.Count];
            var headerNames = stackalloc byte*[headers.Count];
            int h = 0;
            foreach (var (include, text) in headers)
            {
                headerNames[h] = Utf8(include);
                headerTexts[h++] = Utf8(text);
            }
            var optionTexts = stackalloc byte*[options.Count];
            for (int i = 0; i < options.Count; i++) optionTexts[i] = Utf8(options[i]);

            Check(nvrtcCreateProgram(out nint program, Utf8(source), Utf8(name), headers.Count, headerTexts, headerNames), nameof(nvrtcCreateProgram));
            try
            {
                int status = nvrtcCompileProgram(program, options.Count, optionTexts);
                string log = ProgramLog(program);
                Check(status, nameof(nvrtcCompileProgram), log);
                Check(nvrtcGetPTXSize(program, out nuint ptxSize), nameof(nvrtcGetPTXSize));
                var ptx = new byte[(int)ptxSize];
                fixed (byte* p = ptx) Check(nvrtcGetPTX(program, p), nameof(nvrtcGetPTX));
                // A virtual (compute_XY) target has no CUBIN: NVRTC 11 reports size 0, later releases may
                // answer with an error status instead; both mean "none", so this status is not an error.
                byte[]? cubin = null;
                if (nvrtcGetCUBINSize(program, out nuint cubinSize) == 0 && cubinSize > 0)
                {
                    cubin = new byte[(int)cubinSize];
                    fixed (byte* c = cubin) Check(nvrtcGetCUBIN(program, c), nameof(nvrtcGetCUBIN));
                }
                return new Output(ptx, cubin, log);
            }
            finally
            {
                nvrtcDestroyProgram(ref program);
            }
        }
        finally
        {
            foreach (var handle in pinned) handle.Free();
        }
    }

    /// <summary>A virtual target (compute_XY) means PTX for the driver to JIT; a driver older than this NVRTC cannot
    /// (CUDA_ERROR_UNSUPPORTED_PTX_VERSION), so say so now, with both versions and the fix.</summary>
    private static void RejectUnloadablePtx(IReadOnlyList<string> options)
    {
        var choice = NativeLibraries.NvrtcChoice;
        if (choice.PtxLoadable) return;
        string? virtualTarget = options.FirstOrDefault(o => o.StartsWith("--gpu-architecture=compute_", StringComparison.Ordinal));
        if (virtualTarget is null) return;
        throw new NotSupportedException(
            $"{virtualTarget} asks NVRTC for PTX, but {choice.Reason}. Fix: install an NVRTC not newer than the driver's " +
            $"CUDA version (set {NativeLibraries.Nvrtc.OverrideVariable} to its library), or update the NVIDIA driver.");
    }

    private static string ProgramLog(nint program)
    {
        Check(nvrtcGetProgramLogSize(program, out nuint size), nameof(nvrtcGetProgramLogSize));
        var log = new byte[(int)size];
        fixed (byte* l = log) Check(nvrtcGetProgramLog(program, l), nameof(nvrtcGetProgramLog));
        return Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
    }
}
