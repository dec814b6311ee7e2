namespace AslCuda.Metrics;

/// <summary>
/// Precision, recall and F1 at one threshold, per class and over all classes, as the ASL paper's validate.py
/// prints them. Percentages (0 to 100).
/// </summary>
/// <param name="Threshold">The threshold: a score counts as a predicted positive when it is strictly greater.</param>
/// <param name="TruePositives">Per class: predicted and positive.</param>
/// <param name="FalsePositives">Per class: predicted and negative.</param>
/// <param name="FalseNegatives">Per class: not predicted and positive.</param>
/// <param name="TrueNegatives">Per class: not predicted and negative.</param>
/// <param name="Precision">Per class: 100 TP / (TP + FP); 0 for a class without a true positive.</param>
/// <param name="Recall">Per class: 100 TP / (TP + FN); 0 for a class without a true positive.</param>
/// <param name="F1">Per class: 2 P R / (P + R); 0 for a class without a true positive.</param>
/// <param name="PrecisionPerClass">P_C: the mean of <paramref name="Precision"/> over all classes.</param>
/// <param name="RecallPerClass">R_C: the mean of <paramref name="Recall"/> over all classes.</param>
/// <param name="F1PerClass">F_C: the mean of <paramref name="F1"/> over all classes (validate.py's definition; some papers
/// instead report the harmonic mean of P_C and R_C).</param>
/// <param name="PrecisionOverall">P_O: 100 sum TP / sum (TP + FP) over all classes.</param>
/// <param name="RecallOverall">R_O: 100 sum TP / sum (TP + FN) over all classes.</param>
/// <param name="F1Overall">F_O: the harmonic mean of P_O and R_O.</param>
public sealed record ThresholdMetricsResult(
    float Threshold,
    int[] TruePositives, int[] FalsePositives, int[] FalseNegatives, int[] TrueNegatives,
    double[] Precision, double[] Recall, double[] F1,
    double PrecisionPerClass, double RecallPerClass, double F1PerClass,
    double PrecisionOverall, double RecallOverall, double F1Overall);

/// <summary>
/// Multi-label precision, recall and F1 at a threshold, with the rules of the ASL paper's validate.py
/// (TRESNET.md 3.2): prediction = score &gt; threshold, strictly, compared in float32 as PyTorch compares a float32
/// tensor with a Python float (so a score equal to (float)threshold is not predicted); per-class values in percent
/// and 0 for a class without a true positive; P_C, R_C, F_C the plain means over all classes; P_O, R_O from the
/// counts summed over classes and F_O their harmonic mean. Where validate.py divides 0 by 0 (nothing predicted
/// at all for P_O, no positive at all for R_O, P_O + R_O = 0 for F_O) and prints nan, this gives 0.
/// </summary>
public static class ThresholdMetrics
{
    /// <summary>Evaluates row-major scores and 0/1 targets of shape [samples, classes] at <paramref name="threshold"/>.</summary>
    /// <exception cref="ArgumentException">Shapes do not match, or a target is neither 0 nor 1.</exception>
    public static ThresholdMetricsResult Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> targets, int samples, int classes, float threshold)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (scores.Length != (long)samples * classes)
            throw new ArgumentException($"scores have {scores.Length} elements, expected {samples} x {classes}.", nameof(scores));
        if (targets.Length != scores.Length)
            throw new ArgumentException($"targets have {targets.Length} elements but scores have {scores.Length}.", nameof(targets));
        if (float.IsNaN(threshold)) throw new ArgumentException("the threshold is NaN.", nameof(threshold));

        var tp = new int[classes];
        var fp = new int[classes];
        var fn = new int[classes];
        var tn = new int[classes];
        for (int i = 0; i < samples; i++)
        {
            for (int k = 0; k < classes; k++)
            {
                int at = i * classes + k;
                float target = targets[at];
                if (target is not (0f or 1f))
                    throw new ArgumentException($"targets[{i}, {k}] is {target}; targets must be 0 or 1.", nameof(targets));
                bool predicted = scores[at] > threshold;
                bool positive = target == 1f;
                if (predicted && positive) tp[k]++;
                else if (predicted) fp[k]++;
                else if (positive) fn[k]++;
                else tn[k]++;
            }
        }

        var precision = new double[classes];
        var recall = new double[classes];
        var f1 = new double[classes];
        long tpSum = 0, predictedSum = 0, positiveSum = 0;
        for (int k = 0; k < classes; k++)
        {
            if (tp[k] > 0)
            {
                precision[k] = 100.0 * tp[k] / (tp[k] + fp[k]);
                recall[k] = 100.0 * tp[k] / (tp[k] + fn[k]);
                f1[k] = 2 * precision[k] * recall[k] / (precision[k] + recall[k]);
            }
            tpSum += tp[k];
            predictedSum += tp[k] + fp[k];
            positiveSum += tp[k] + fn[k];
        }
        double precisionOverall = predictedSum == 0 ? 0 : 100.0 * tpSum / predictedSum;
        double recallOverall = positiveSum == 0 ? 0 : 100.0 * tpSum / positiveSum;
        double f1Overall = precisionOverall + recallOverall == 0 ? 0 : 2 * precisionOverall * recallOverall / (precisionOverall + recallOverall);
        return new ThresholdMetricsResult(threshold, tp, fp, fn, tn, precision, recall, f1,
            precision.Average(), recall.Average(), f1.Average(), precisionOverall, recallOverall, f1Overall);
    }
}
