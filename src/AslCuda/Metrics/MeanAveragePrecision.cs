namespace AslCuda.Metrics;

/// <summary>Per-class average precision and the two class means of one evaluation.</summary>
/// <param name="AveragePrecision">AP of each class in [0, 1]; 0 for a class without positives.</param>
/// <param name="PositiveCount">Number of positives of each class.</param>
/// <param name="Map">100 * mean AP over all classes, classes without positives counting 0 (the paper code's mAP).</param>
/// <param name="MapOverClassesWithPositives">100 * mean AP over the classes that have a positive (NaN when none has).</param>
public sealed record MeanAveragePrecisionResult(
    double[] AveragePrecision, int[] PositiveCount, double Map, double MapOverClassesWithPositives);

/// <summary>
/// Mean average precision as the ASL paper code computes it (ASL.md section 4, TRESNET.md 3.3): per class,
/// AP = (sum of precision at the rank of each positive) / (positives + 1e-8); a class without positives has AP 0
/// and still counts in the mean; mAP = 100 x the mean over all classes. A target counts as positive where it
/// equals 1, as in the paper code. Scores are ranked in descending order by a stable sort, so tied scores keep
/// their sample order; NaN scores rank last. The paper code reverses numpy's ascending argsort, which is not
/// stable: it ranks NaN first, and within exact ties its order is unspecified (later samples first for short
/// columns), so results can differ from it where scores tie exactly (e.g. sigmoid outputs saturated at 1).
/// </summary>
public static class MeanAveragePrecision
{
    /// <summary>The paper code's epsilon in AP = sum of precisions / (positives + eps).</summary>
    public const double Epsilon = 1e-8;

    /// <summary>Evaluates row-major scores and targets of shape [samples, classes].</summary>
    public static MeanAveragePrecisionResult Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> targets, int samples, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (scores.Length != (long)samples * classes)
            throw new ArgumentException($"scores have {scores.Length} elements, expected {samples} x {classes}.", nameof(scores));
        if (targets.Length != scores.Length)
            throw new ArgumentException($"targets have {targets.Length} elements but scores have {scores.Length}.", nameof(targets));

        var averagePrecision = new double[classes];
        var positiveCount = new int[classes];
        var columnScores = new float[samples];
        var columnTargets = new float[samples];
        var order = new int[samples];
        for (int k = 0; k < classes; k++)
        {
            for (int i = 0; i < samples; i++)
            {
                columnScores[i] = scores[i * classes + k];
                columnTargets[i] = targets[i * classes + k];
            }
            averagePrecision[k] = ClassAveragePrecision(columnScores, columnTargets, order, out positiveCount[k]);
        }

        double sumAll = 0, sumWithPositives = 0;
        int classesWithPositives = 0;
        for (int k = 0; k < classes; k++)
        {
            sumAll += averagePrecision[k];
            if (positiveCount[k] > 0)
            {
                sumWithPositives += averagePrecision[k];
                classesWithPositives++;
            }
        }
        return new MeanAveragePrecisionResult(averagePrecision, positiveCount,
            100 * sumAll / classes,
            classesWithPositives == 0 ? double.NaN : 100 * sumWithPositives / classesWithPositives);
    }

    /// <summary>AP of one class: the mean of the precisions at the ranks of its positives.</summary>
    public static double AveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<float> targets)
    {
        if (targets.Length != scores.Length)
            throw new ArgumentException($"targets have {targets.Length} elements but scores have {scores.Length}.", nameof(targets));
        return ClassAveragePrecision(scores, targets, new int[scores.Length], out _);
    }

    private static double ClassAveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<float> targets, int[] order, out int positives)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        float[] rankScores = scores.ToArray();
        // Array.Sort is not stable; breaking ties by sample index makes it so.
        Array.Sort(order, (a, b) =>
        {
            int byScore = rankScores[b].CompareTo(rankScores[a]);
            return byScore != 0 ? byScore : a.CompareTo(b);
        });

        positives = 0;
        double precisionSum = 0;
        for (int rank = 0; rank < order.Length; rank++)
        {
            if (targets[order[rank]] != 1) continue;
            positives++;
            precisionSum += positives / (double)(rank + 1);
        }
        return precisionSum / (positives + Epsilon);
    }
}
