namespace AslCuda.Train;

/// <summary>The results table (markdown, so that docs/training.md can show it as printed).</summary>
internal static class Summary
{
    public static void Print(IReadOnlyList<RunResult> results, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine("| loss | final val mAP (mean ± sd) | min – max | best-epoch val mAP | final mAP, classes with positives " +
            "| mean p, positives | mean p, negatives | train gap dp | final gamma_neg | s per run |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var runs in results.GroupBy(r => r.Loss.Key).Select(g => g.ToList()))
        {
            var final = runs.Select(r => r.Final.ValidationMap).ToArray();
            var best = runs.Select(r => r.Best.ValidationMap).ToArray();
            Console.WriteLine($"| {runs[0].Loss.Name} | {final.Average():F2} ± {StandardDeviation(final):F2} | {final.Min():F2} – {final.Max():F2} " +
                $"| {best.Average():F2} ± {StandardDeviation(best):F2} (epoch {string.Join(",", runs.Select(r => r.Best.Epoch))}) " +
                $"| {runs.Average(r => r.Final.ValidationMapWithPositives):F2} | {runs.Average(r => r.Final.MeanPPositive):F3} " +
                $"| {runs.Average(r => r.Final.MeanPNegative):F4} | {runs.Average(r => r.Final.TrainGap):F3} " +
                $"| {string.Join(", ", runs.Select(r => r.Final.GammaNeg.ToString("F2")).Distinct())} | {runs.Average(r => r.Seconds):F1} |");
        }
        Console.WriteLine();
        Console.WriteLine($"final mAP per seed: {string.Join("; ", results.Select(r => $"{r.Loss.Key} seed {r.Seed}: {r.Final.ValidationMap:F2}"))}");
        Console.WriteLine($"total time {elapsed.TotalSeconds:F0} s (data, training, evaluation)");
    }

    /// <summary>Sample standard deviation (n - 1); 0 for a single run.</summary>
    private static double StandardDeviation(double[] values)
    {
        if (values.Length < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
