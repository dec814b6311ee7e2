using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using AslCuda.Metrics;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Metrics;

/// <summary>
/// The core's mAP and threshold metrics against validate.py's arithmetic written with numpy and torch
/// (metrics_oracle.py) on validation-like data: 80 classes, rare positives, a class without positives,
/// distinct scores (numpy's order within exact ties cannot be reproduced, see MeanAveragePrecision).
/// </summary>
public class MetricsOracleTests
{
    [TestCase(300, 0.8f, 11)]
    [TestCase(1000, 0.95f, 13)]
    public void MapAndPrecisionRecallF1MatchValidatePy(int samples, float threshold, int seed)
    {
        PillowOracle.Require(); // the same /usr/bin/python3 with numpy; torch is checked below
        const int classes = 80;
        var random = new Random(seed);
        var scores = new float[samples * classes];
        var targets = new float[samples * classes];
        var used = new HashSet<float>();
        for (int i = 0; i < samples; i++)
        for (int k = 0; k < classes; k++)
        {
            bool positive = k != 7 && random.NextDouble() < 0.04 + 0.2 * (k % 5) / 5;
            float score;
            do score = (float)(1 / (1 + Math.Exp(-(random.NextDouble() * 8 - 4 + (positive ? 2.5 : 0))))); while (!used.Add(score));
            scores[i * classes + k] = score;
            targets[i * classes + k] = positive ? 1 : 0;
        }

        var oracle = RunOracle(scores, targets, samples, classes, threshold);
        var map = MeanAveragePrecision.Compute(scores, targets, samples, classes);
        var ap = oracle["ap"]!.AsArray().Select(n => n!.GetValue<double>()).ToArray();
        Assert.That(map.AveragePrecision, Is.EqualTo(ap).Within(1e-12));
        Assert.That(map.AveragePrecision[7], Is.Zero, "class 7 has no positive");
        Assert.That(map.Map, Is.EqualTo(oracle["map"]!.GetValue<double>()).Within(1e-10));

        var r = ThresholdMetrics.Compute(scores, targets, samples, classes, threshold);
        Assert.That(r.TruePositives, Is.EqualTo(Ints(oracle["tp"])));
        Assert.That(r.FalsePositives, Is.EqualTo(Ints(oracle["fp"])));
        Assert.That(r.FalseNegatives, Is.EqualTo(Ints(oracle["fn"])));
        // validate.py divides in float32: 1e-5 of a percentage covers its rounding.
        Assert.That(r.Precision, Is.EqualTo(Doubles(oracle["precision"])).Within(1e-4));
        Assert.That(r.Recall, Is.EqualTo(Doubles(oracle["recall"])).Within(1e-4));
        Assert.That(r.F1, Is.EqualTo(Doubles(oracle["f1"])).Within(1e-4));
        Assert.That(r.PrecisionPerClass, Is.EqualTo(oracle["p_c"]!.GetValue<double>()).Within(1e-4));
        Assert.That(r.RecallPerClass, Is.EqualTo(oracle["r_c"]!.GetValue<double>()).Within(1e-4));
        Assert.That(r.F1PerClass, Is.EqualTo(oracle["f_c"]!.GetValue<double>()).Within(1e-4));
        Assert.That(r.PrecisionOverall, Is.EqualTo(oracle["p_o"]!.GetValue<double>()).Within(1e-4));
        Assert.That(r.RecallOverall, Is.EqualTo(oracle["r_o"]!.GetValue<double>()).Within(1e-4));
        Assert.That(r.F1Overall, Is.EqualTo(oracle["f_o"]!.GetValue<double>()).Within(1e-4));
    }

    private static int[] Ints(JsonNode? node) => node!.AsArray().Select(n => n!.GetValue<int>()).ToArray();

    private static double[] Doubles(JsonNode? node) => node!.AsArray().Select(n => n!.GetValue<double>()).ToArray();

    private static JsonObject RunOracle(float[] scores, float[] targets, int samples, int classes, float threshold)
    {
        var rows = (float[] values) => Enumerable.Range(0, samples).Select(i => values.AsSpan(i * classes, classes).ToArray()).ToArray();
        var start = new ProcessStartInfo(PillowOracle.Python, [ScriptPath()])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        // The threshold goes as the float32 value's shortest decimal, which Python reads back to the same float32.
        process.StandardInput.Write(JsonSerializer.Serialize(new { scores = rows(scores), targets = rows(targets), threshold = (double)threshold }));
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            if (stderr.Result.Contains("No module named 'torch'", StringComparison.Ordinal) &&
                Environment.GetEnvironmentVariable("ASLCUDA_REQUIRE_PIL") != "1")
                Assert.Ignore("/usr/bin/python3 has no torch (apt-get install python3-torch; ASLCUDA_REQUIRE_PIL=1 makes this a failure)");
            Assert.Fail($"metrics_oracle.py exited with {process.ExitCode}: {stderr.Result}");
        }
        return JsonNode.Parse(stdout)!.AsObject();
    }

    private static string ScriptPath([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "metrics_oracle.py");
}
