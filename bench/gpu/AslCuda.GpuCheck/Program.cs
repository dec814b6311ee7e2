using System.Globalization;
using System.Text.Json.Serialization;
using AslCuda;
using AslCuda.GpuCheck;
using AslCuda.Tests.Gpu;

// The one-call GPU check (bench/gpu/run.sh drives it): info | check | bench <json> | values <dir>.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string command = args.Length > 0 ? args[0] : "check";
return command switch
{
    "info" => Info(),
    "check" => RequireDevice() ?? Check(),
    "bench" when args.Length == 2 => RequireDevice() ?? Benchmark.Run(args[1]),
    "values" when args.Length == 2 => RequireDevice() ?? ValueExchange.Run(args[1]),
    "sanitize" => RequireDevice() ?? Sanitize(),
    _ => Usage(),
};

static int? RequireDevice()
{
    if (AslCuda.Gpu.CudaDevice.IsAvailable) return null;
    Console.WriteLine("FAIL no CUDA device: " + AslCuda.Gpu.CudaDevice.Describe());
    return 1;
}

static int Info()
{
    Console.WriteLine(MultiLabelGpuChecks.DescribeEnvironment());
    return 0;
}

static int Check()
{
    var checks = new List<Func<GpuCheckResult>>();
    int seed = 100;
    if (Shapes.Emulated)
    {
        // Every CUDA thread is a CPU thread here: the multi-label variants at a small size and each single-label
        // layout once (the GpuDevice tests run the whole matrix on this device), so run.sh ends within minutes.
        foreach (var c in MultiLabelGpuChecks.VariantCases(count: 1_003)) { int s = seed++; checks.Add(() => MultiLabelGpuChecks.Check(c, s)); }
        foreach (var c in SingleLabelGpuChecks.LayoutCases()) { int s = seed++; checks.Add(() => SingleLabelGpuChecks.Check(c, s)); }
        return RunChecks(checks);
    }
    foreach (var c in MultiLabelGpuChecks.VariantCases()) { int s = seed++; checks.Add(() => MultiLabelGpuChecks.Check(c, s)); }
    foreach (var c in MultiLabelGpuChecks.SizeCases()) { int s = seed++; checks.Add(() => MultiLabelGpuChecks.Check(c, s)); }
    // AslCuda's extensions (the emulated device runs them in the GpuDevice tests).
    foreach (var c in MultiLabelGpuChecks.ExtensionCases().Concat(MultiLabelGpuChecks.ExtensionSizeCases())) { int s = seed++; checks.Add(() => MultiLabelGpuChecks.Check(c, s)); }
    foreach (var logit in new[] { AslDataType.Float32, AslDataType.BFloat16 })
    {
        var c = new MultiLabelCase("determinism", logit, AslDataType.UInt8, new AslOptions { Reduction = AslReduction.None }, true, true,
            GpuCheckDevice.Size(3_000_017, 50_021));
        checks.Add(() => MultiLabelGpuChecks.CheckDeterminism(c, 7));
    }
    // 2^27 elements and more only on hardware (the emulated device runs one OS thread per CUDA thread).
    if (!GpuCheckDevice.IsEmulated)
    {
        var large = MultiLabelGpuChecks.LargeCase();
        int largeSeed = seed++, largeSingleSeed = seed++;
        checks.Add(() => MultiLabelGpuChecks.Check(large, largeSeed));
        checks.Add(() => MultiLabelGpuChecks.CheckDeterminism(large, 8));
        var largeExtension = MultiLabelGpuChecks.LargeExtensionCase();
        int largeExtensionSeed = seed++;
        checks.Add(() => MultiLabelGpuChecks.Check(largeExtension, largeExtensionSeed));
        var largeSingle = SingleLabelGpuChecks.LargeCase();
        checks.Add(() => SingleLabelGpuChecks.Check(largeSingle, largeSingleSeed));
    }
    foreach (var c in SingleLabelGpuChecks.VariantCases()) { int s = seed++; checks.Add(() => SingleLabelGpuChecks.Check(c, s)); }
    foreach (var c in SingleLabelGpuChecks.SizeCases()) { int s = seed++; checks.Add(() => SingleLabelGpuChecks.Check(c, s)); }
    foreach (int classes in new[] { 80, 21843 })
    {
        var c = new SingleLabelCase("determinism", AslDataType.Float32, AslIndexType.Int64, new SingleLabelOptions(), true,
            GpuCheckDevice.Size(2001, classes > 1024 ? 17 : 2001), classes);
        checks.Add(() => SingleLabelGpuChecks.CheckDeterminism(c, 9));
    }

    Console.WriteLine(GpuCheckKernels.Prewarm());
    return RunChecks(checks);
}

static int RunChecks(List<Func<GpuCheckResult>> checks)
{
    int failed = 0;
    foreach (var check in checks)
    {
        var started = DateTime.UtcNow;
        GpuCheckResult result;
        try
        {
            result = check();
        }
        catch (Exception e)
        {
            result = new GpuCheckResult("(exception)", false, e.ToString());
        }
        if (!result.Passed) failed++;
        Console.WriteLine($"{(result.Passed ? "PASS" : "FAIL")} {result.Name}: {result.Detail} [{(DateTime.UtcNow - started).TotalSeconds:F1} s]");
    }
    Console.WriteLine($"{checks.Count - failed} of {checks.Count} checks passed");
    return failed == 0 ? 0 : 1;
}

// Three small cases for compute-sanitizer (memcheck, racecheck, synccheck): multi-label float32/uint8 with an
// unaligned start, bfloat16 with float targets and statistics, single-label with a warp per row.
static int Sanitize()
{
    var checks = new GpuCheckResult[]
    {
        MultiLabelGpuChecks.Check(new MultiLabelCase("sanitize", AslDataType.Float32, AslDataType.UInt8, new AslOptions(), true, false, 10_007, ElementOffset: 1), 1),
        MultiLabelGpuChecks.Check(new MultiLabelCase("sanitize", AslDataType.BFloat16, AslDataType.Float32,
            new AslOptions { Reduction = AslReduction.None }, true, true, 1_003), 2),
        SingleLabelGpuChecks.Check(new SingleLabelCase("sanitize", AslDataType.Float32, AslIndexType.Int64, new SingleLabelOptions(), true, 41, 300), 3),
    };
    foreach (var result in checks) Console.WriteLine($"{(result.Passed ? "PASS" : "FAIL")} {result.Name}: {result.Detail}");
    return checks.All(r => r.Passed) ? 0 : 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: AslCuda.GpuCheck info | check | bench <results.json> | values <dir> | sanitize");
    return 2;
}

namespace AslCuda.GpuCheck
{
    /// <summary>Shapes timed by the check, with the paper's datasets in mind (80 COCO classes, 9605 Open Images classes).</summary>
    /// <summary>On an emulated device (the test driver of tests/EmulatedDevice, whose name starts with
    /// "AslCuda emulated") every CUDA thread is a CPU thread, so the shapes shrink to what proves the
    /// pipeline end to end in seconds; the numbers it prints are not timings of anything real.</summary>
    internal static class Shapes
    {
        public static bool Emulated =>
            AslCuda.Gpu.GpuDevice.Get(0).Name.StartsWith("AslCuda emulated", StringComparison.Ordinal);

        public static (int N, int C)[] MultiLabel => Emulated ? [(4, 80)] : [(128, 80), (1024, 80), (128, 9605), (1024, 9605), (4096, 9605)];
        public static (int N, int C)[] SingleLabel => Emulated ? [(8, 100)] : [(256, 1000), (1024, 1000), (256, 21843)];
        public static readonly AslDataType[] LogitTypes = [AslDataType.Float32, AslDataType.BFloat16];
    }

    internal sealed record TimingResult(string Kind, int N, int C, string Logit, string Target, double Milliseconds, double Bytes, double GigabytesPerSecond);

    internal sealed record BenchmarkReport(string Device, double CopyGigabytesPerSecond, List<TimingResult> Results);

    /// <summary>One input pair written by baseline.py for the value comparison.</summary>
    internal sealed record ValueCase(string Name, string Kind, int N, int C, string Logit, string X, string Y);

    /// <summary>Source-generated JSON (the published check is trimmed, so no reflection).</summary>
    [JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
    [JsonSerializable(typeof(BenchmarkReport))]
    [JsonSerializable(typeof(List<ValueCase>))]
    [JsonSerializable(typeof(Dictionary<string, float>))]
    internal sealed partial class JsonContext : JsonSerializerContext;
}
