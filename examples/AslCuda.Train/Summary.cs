namespace AslCuda.Train;

/// <summary>The results table (markdown, so that docs/training.md can show it as printed).</summary>
internal static class Summary
{
    public static void Print(IReadOnlyList<RunResult> results, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine("| loss | validation mAP (mean ± sd) | min – max | mAP, classes with positives | mean p positives | mean p negatives | final gamma_neg | s per run |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var runs in results.GroupBy(r => r.Loss.Key).Select(g => g.ToList()))
        {
            var maps = runs.Select(r => r.Final.ValidationMap).ToArray();
            Console.WriteLine($"| {runs[0].Loss.Name} | {maps.Average():F2} ± {StandardDeviation(maps):F2} | {maps.Min():F2} – {maps.Max():F2} " +
                $"| {runs.Average(r => r.Final.ValidationMapWithPositives):F2} | {runs.Average(r => r.Final.MeanPPositive):F3} " +
                $"| {runs.Average(r => r.Final.MeanPNegative):F4} | {string.Join(", ", runs.Select(r => r.Final.GammaNeg.ToString("F2")).Distinct())} " +
                $"| {runs.Average(r => r.Seconds):F1} |");
        }
        Console.WriteLine();
        Console.WriteLine($"per seed: {string.Join("; ", results.Select(r => $"{r.Loss.Key} seed {r.Seed}: {r.Final.ValidationMap:F2}"))}");
        Console.WriteLine($"total time {elapsed.TotalSeconds:F0} s");
    }

    /// <summary>Sample standard deviation (n - 1); 0 for a single run.</summary>
    private static double StandardDeviation(double[] values)
    {
        if (values.Length < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
