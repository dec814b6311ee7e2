using AslCuda.Gpu;

namespace AslCuda.Tests.Gpu;

/// <summary>The kernel variants the GPU checks use, compiled up front on all cores (NVRTC is thread-safe), so
/// the checks measure the kernels rather than minutes of one-at-a-time compiles. NUnit-free: the GPU check
/// tool links this file too.</summary>
public static class GpuCheckKernels
{
    /// <summary>Compiles (or loads from the kernel cache) every variant for device 0; returns a one-line summary.</summary>
    public static string Prewarm()
    {
        var started = DateTime.UtcNow;
        var device = GpuDevice.Get(0);
        var programs = MultiLabelGpuChecks.VariantCases().Concat(MultiLabelGpuChecks.SizeCases())
            .Concat(MultiLabelGpuChecks.ExtensionCases()).Concat(MultiLabelGpuChecks.ExtensionSizeCases())
            .Select(c => (MultiLabelVariant.Program, MultiLabelVariant.For(c.Logit, c.Target, c.Options, c.Gradient, c.Statistics).Defines))
            .Concat(SingleLabelGpuChecks.VariantCases().Concat(SingleLabelGpuChecks.SizeCases())
                .Select(c => (SingleLabelVariant.Program, SingleLabelVariant.For(c.Logit, c.Target, c.Classes, c.Options, c.Gradient).Defines)))
            .DistinctBy(p => p.Program.FileName + " " + string.Join(' ', p.Defines))
            .ToList();
        int before = KernelCache.Shared.CompilationCount;
        Parallel.ForEach(programs, p => KernelCache.Shared.Get(p.Program, p.Defines, device.ComputeCapability));
        return $"{programs.Count} kernel variants for sm_{device.ComputeCapability} ready in {(DateTime.UtcNow - started).TotalSeconds:F1} s " +
               $"({KernelCache.Shared.CompilationCount - before} compiled by NVRTC, the rest from the cache)";
    }
}

/// <summary>
/// Where the checks run: a GPU, or the emulated device of the tests (tests/EmulatedDevice: every CUDA thread is an
/// OS thread, so a launch costs milliseconds per block). On the emulator the same variants run at smaller sizes,
/// and the cases of 2^27 elements and more are left to hardware.
/// </summary>
public static class GpuCheckDevice
{
    /// <summary>How the fake driver's device names start.</summary>
    public const string EmulatedNamePrefix = "AslCuda emulated";

    private static readonly Lazy<bool> Emulated = new(() =>
    {
        if (!CudaDevice.IsAvailable) return false;
        try
        {
            return GpuDevice.Get(0).Name.StartsWith(EmulatedNamePrefix, StringComparison.Ordinal);
        }
        catch (Exception)
        {
            return false;   // an unusable device is reported by the checks themselves
        }
    });

    /// <summary>True when device 0 is the emulated device.</summary>
    public static bool IsEmulated => Emulated.Value;

    /// <summary>The hardware size, or the emulated one on the emulator.</summary>
    public static long Size(long hardware, long emulated) => IsEmulated ? emulated : hardware;

    public const string HardwareOnlyReason = "needs a real GPU: 2^27 elements and more are too many for the emulated device (one OS thread per CUDA thread)";
}

