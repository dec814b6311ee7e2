using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using AslCuda.Cuda;

namespace AslCuda.Gpu;

/// <summary>A kernel source embedded in this assembly (kernels/*.cu) with every header it may include.</summary>
internal sealed class KernelProgram
{
    private static readonly ConcurrentDictionary<string, KernelProgram> Programs = new();

    public string FileName { get; }
    public string Source { get; }
    public IReadOnlyDictionary<string, string> Headers { get; }

    private KernelProgram(string fileName)
    {
        FileName = fileName;
        Source = ReadResource(fileName);
        var assembly = typeof(KernelProgram).Assembly;
        Headers = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cuh", StringComparison.Ordinal))
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToDictionary(n => n[ResourcePrefix.Length..], n => ReadResource(n[ResourcePrefix.Length..]));
    }

    private const string ResourcePrefix = "AslCuda.kernels.";

    public static KernelProgram Get(string fileName) => Programs.GetOrAdd(fileName, f => new KernelProgram(f));

    private static string ReadResource(string fileName)
    {
        using var stream = typeof(KernelProgram).Assembly.GetManifestResourceStream(ResourcePrefix + fileName)
            ?? throw new InvalidOperationException($"kernel source {fileName} is not embedded in {Assembly.GetExecutingAssembly().GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

/// <summary>What NVRTC is asked to produce for a device: machine code for its own architecture when this
/// NVRTC knows it, else PTX for the newest virtual architecture it knows that the device can run.</summary>
internal readonly record struct KernelTarget(string Architecture, bool Cubin)
{
    public string Option => $"--gpu-architecture={Architecture}";

    public static KernelTarget For(int computeCapability, IReadOnlyCollection<int> supported)
    {
        if (supported.Contains(computeCapability)) return new KernelTarget($"sm_{computeCapability}", Cubin: true);
        int[] older = supported.Where(a => a < computeCapability).ToArray();
        if (older.Length == 0)
            throw new NotSupportedException(
                $"this NVRTC compiles for sm_{supported.Min()} to sm_{supported.Max()}; the device is sm_{computeCapability}. Use an NVRTC release that supports it.");
        return new KernelTarget($"compute_{older.Max()}", Cubin: false);
    }
}

/// <summary>One compiled variant: CUBIN or zero-terminated PTX, and NVRTC's log.</summary>
internal sealed record CompiledKernel(byte[] Image, KernelTarget Target, string Log);

/// <summary>
/// Compiles kernel variants with NVRTC at most once per process and keeps the results on disk, keyed by
/// a hash of the sources, options, NVRTC version and target. Files are written to a temporary name and
/// renamed, carry a checksum, and are recompiled when missing, partial or corrupt.
/// </summary>
internal sealed class KernelCache(string? directory)
{
    /// <summary>The process-wide cache in $ASLCUDA_KERNEL_CACHE, else the user cache folder (~/.cache/aslcuda).</summary>
    public static KernelCache Shared { get; } = new(DefaultDirectory());

    private static readonly byte[] Magic = "ASLKRN01"u8.ToArray();
    private const int HeaderLength = 8 + 32;          // magic, SHA-256 of the payload

    private readonly ConcurrentDictionary<string, Lazy<CompiledKernel>> _compiled = new();
    private int _compilations;

    /// <summary>The folder holding the cached images; null keeps them in memory only.</summary>
    public string? Directory { get; } = directory;

    /// <summary>How many times this cache has run NVRTC (cache hits do not count).</summary>
    public int CompilationCount => Volatile.Read(ref _compilations);

    public static string? DefaultDirectory()
    {
        string? configured = Environment.GetEnvironmentVariable("ASLCUDA_KERNEL_CACHE");
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseFolder = !string.IsNullOrWhiteSpace(xdg) ? xdg
            : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return string.IsNullOrEmpty(baseFolder) ? null : Path.Combine(baseFolder, "aslcuda");
    }

    /// <summary>The variant of <paramref name="program"/> given by <paramref name="defines"/> for a device of
    /// compute capability <paramref name="computeCapability"/> (e.g. 90).</summary>
    public CompiledKernel Get(KernelProgram program, IReadOnlyList<string> defines, int computeCapability)
    {
        var target = KernelTarget.For(computeCapability, Nvrtc.SupportedArchitectures());
        return Get(program, defines, target);
    }

    public CompiledKernel Get(KernelProgram program, IReadOnlyList<string> defines, KernelTarget target)
    {
        string[] options = [target.Option, "--std=c++17", .. defines];
        string key = Key(program, options, target);
        return _compiled.GetOrAdd(key, k => new Lazy<CompiledKernel>(() => LoadOrCompile(program, options, target, k))).Value;
    }

    private CompiledKernel LoadOrCompile(KernelProgram program, string[] options, KernelTarget target, string key)
    {
        string? path = Directory is null ? null
            : Path.Combine(Directory, $"{Path.GetFileNameWithoutExtension(program.FileName)}-{key[..32]}.{(target.Cubin ? "cubin" : "ptx")}");
        if (path is not null && TryRead(path) is { } cached) return new CompiledKernel(cached, target, "");

        Interlocked.Increment(ref _compilations);
        var output = Nvrtc.Compile(program.Source, program.FileName, program.Headers, options);
        byte[] image = target.Cubin
            ? output.Cubin ?? throw new InvalidOperationException($"NVRTC produced no CUBIN for {target.Architecture}.")
            : output.Ptx;
        if (path is not null) TryWrite(path, image);
        return new CompiledKernel(image, target, output.Log);
    }

    private static string Key(KernelProgram program, string[] options, KernelTarget target)
    {
        var text = new StringBuilder();
        text.Append("nvrtc ").Append(Nvrtc.Version).Append('\n').Append(target).Append('\n');
        foreach (string option in options) text.Append(option).Append('\n');
        text.Append(program.FileName).Append('\n').Append(program.Source);
        foreach (var (name, header) in program.Headers) text.Append('\n').Append(name).Append('\n').Append(header);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The payload of a cache file, or null when the file is missing, truncated or does not match its checksum.</summary>
    internal static byte[]? TryRead(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (IsFileSystemError(e))
        {
            return null;
        }
        if (bytes.Length <= HeaderLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
        var payload = bytes.AsSpan(HeaderLength);
        return SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan(Magic.Length, 32)) ? payload.ToArray() : null;
    }

    /// <summary>Writes to a unique temporary file and renames it into place, so readers never see half a file.
    /// A cache that cannot be written only costs a compile next time.</summary>
    private static void TryWrite(string path, byte[] payload)
    {
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(Magic);
                file.Write(SHA256.HashData(payload));
                file.Write(payload);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (IsFileSystemError(e))
        {
            // The folder may not exist or not be writable, so deleting the temporary can fail the same way;
            // either failure leaves at most a stray temporary, never a failed launch.
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (IsFileSystemError(cleanup))
            {
            }
        }
    }

    /// <summary>The failures of a cache folder that is missing, unwritable, a file, or an invalid path.</summary>
    private static bool IsFileSystemError(Exception e) =>
        e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException;
}
