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
    foreach (var c in MultiLabelGpuChecks.VariantCases()) { int s = seed++; checks.Add(() => MultiLabelGpuChecks.Check(c, s)); }
    foreach (var c in MultiLabelGpuChecks.SizeCases()) { int s = seed++; checks.Add(() => MultiLabelGpuChecks.Check(c, s)); }
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

static int Usage()
{
    Console.Error.WriteLine("usage: AslCuda.GpuCheck info | check | bench <results.json> | values <dir>");
    return 2;
}

namespace AslCuda.GpuCheck
{
    /// <summary>Shapes timed by the check, with the paper's datasets in mind (80 COCO classes, 9605 Open Images classes).</summary>
    internal static class Shapes
    {
        public static readonly (int N, int C)[] MultiLabel = [(128, 80), (1024, 80), (128, 9605), (1024, 9605), (4096, 9605)];
        public static readonly (int N, int C)[] SingleLabel = [(256, 1000), (1024, 1000), (256, 21843)];
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
