namespace AslCuda.Train;

/// <summary>The results tables (markdown, so that the docs can show them as printed).</summary>
internal static class Summary
{
    /// <summary>How many of the classes with the fewest validation positives get their own AP column.</summary>
    private const int RarestClasses = 3;

    public static void Write(TextWriter writer, TrainingTask task, IReadOnlyList<RunResult> results)
    {
        string metric = task.MetricName;
        writer.WriteLine();
        if (task.SingleLabel)
        {
            writer.WriteLine($"| loss | final val {metric} (mean ± sd) | min – max | best-epoch val {metric} | mean p, true class | mean p, other classes | s per run |");
            writer.WriteLine("|---|---|---|---|---|---|---|");
        }
        else
        {
            writer.WriteLine($"| loss | final val {metric} (mean ± sd) | min – max | best-epoch val {metric} | final mAP, classes with positives " +
                "| mean p, positives | mean p, negatives | train gap dp | final gamma_neg | s per run |");
            writer.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        }
        foreach (var runs in results.GroupBy(r => r.Loss.Key).Select(g => g.ToList()))
        {
            var final = runs.Select(r => r.Final.ValidationScore).ToArray();
            var best = runs.Select(r => r.Best.ValidationScore).ToArray();
            string common = $"| {runs[0].Loss.Name} | {final.Average():F2} ± {StandardDeviation(final):F2} | {final.Min():F2} – {final.Max():F2} " +
                $"| {best.Average():F2} ± {StandardDeviation(best):F2} (epoch {string.Join(",", runs.Select(r => r.Best.Epoch))}) ";
            writer.WriteLine(task.SingleLabel
                ? common + $"| {runs.Average(r => r.Final.MeanPPositive):F3} | {runs.Average(r => r.Final.MeanPNegative):F4} | {runs.Average(r => r.Seconds):F1} |"
                : common + $"| {runs.Average(r => r.Final.ValidationMapWithPositives!.Value):F2} | {runs.Average(r => r.Final.MeanPPositive):F3} " +
                    $"| {runs.Average(r => r.Final.MeanPNegative):F4} | {runs.Average(r => r.Final.TrainGap!.Value):F3} " +
                    $"| {string.Join(", ", runs.Select(r => r.Final.GammaNeg.ToString("F2")).Distinct())} | {runs.Average(r => r.Seconds):F1} |");
        }
        if (!task.SingleLabel) WriteRarestClasses(writer, task, results);
        writer.WriteLine();
        writer.WriteLine($"final {metric} per seed: {string.Join("; ", results.Select(r => $"{r.Loss.Key} seed {r.Seed}: {r.Final.ValidationScore:F2}"))}");
    }

    /// <summary>Final AP (percent, mean ± sd over seeds) of the classes with the fewest validation positives, and of all classes.</summary>
    private static void WriteRarestClasses(TextWriter writer, TrainingTask task, IReadOnlyList<RunResult> results)
    {
        var positives = results[0].ClassPositives;
        var rarest = Enumerable.Range(0, positives.Length).OrderBy(k => positives[k]).ThenBy(k => k).Take(RarestClasses).ToArray();
        writer.WriteLine();
        writer.WriteLine("| loss | " + string.Join(" | ", rarest.Select(k =>
            $"AP {task.ClassNames[k]} ({positives[k]} val positives, {100.0 * positives[k] / (results[0].ValidationTargets.Length / positives.Length):F1} %)")) + " |");
        writer.WriteLine("|---|" + string.Concat(rarest.Select(_ => "---|")));
        foreach (var runs in results.GroupBy(r => r.Loss.Key).Select(g => g.ToList()))
            writer.WriteLine($"| {runs[0].Loss.Name} | " + string.Join(" | ", rarest.Select(k =>
            {
                var ap = runs.Select(r => 100 * r.ClassAveragePrecision[k]).ToArray();
                return $"{ap.Average():F2} ± {StandardDeviation(ap):F2}";
            })) + " |");
    }

    /// <summary>Sample standard deviation (n - 1); 0 for a single run.</summary>
    private static double StandardDeviation(double[] values)
    {
        if (values.Length < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
