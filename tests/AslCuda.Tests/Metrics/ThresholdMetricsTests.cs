using AslCuda.Metrics;

namespace AslCuda.Tests.Metrics;

public class ThresholdMetricsTests
{
    // Five samples, four classes, row-major [sample, class]; threshold 0.5.
    //   class 0: scores .9 .6 .4 .7 .2, targets 1 0 1 1 0 -> predicted 1 1 0 1 0: TP 2, FP 1, FN 1, TN 1
    //            P = 2/3, R = 2/3, F1 = 2/3
    //   class 1: scores .5 .5 .51 .1 .9, targets 1 1 0 0 0 -> .5 is not > .5 (tie with the threshold):
    //            predicted 0 0 1 0 1: TP 0, FP 2, FN 2, TN 1 -> P = R = F1 = 0 (no true positive)
    //   class 2: no positives; scores .8 .1 .1 .1 .1 -> TP 0, FP 1, FN 0, TN 4 -> P = R = F1 = 0
    //   class 3: scores .99 .98 .97 .3 .2, targets 1 1 1 1 1 -> TP 3, FP 0, FN 2: P = 1, R = 3/5, F1 = 3/4
    private static readonly float[] Scores =
    [
        0.9f, 0.5f, 0.8f, 0.99f,
        0.6f, 0.5f, 0.1f, 0.98f,
        0.4f, 0.51f, 0.1f, 0.97f,
        0.7f, 0.1f, 0.1f, 0.3f,
        0.2f, 0.9f, 0.1f, 0.2f,
    ];

    private static readonly float[] Targets =
    [
        1, 1, 0, 1,
        0, 1, 0, 1,
        1, 0, 0, 1,
        1, 0, 0, 1,
        0, 0, 0, 1,
    ];

    [Test]
    public void PerClassCountsAndPercentagesMatchHandComputation()
    {
        var r = ThresholdMetrics.Compute(Scores, Targets, samples: 5, classes: 4, threshold: 0.5f);

        Assert.That(r.TruePositives, Is.EqualTo(new[] { 2, 0, 0, 3 }));
        Assert.That(r.FalsePositives, Is.EqualTo(new[] { 1, 2, 1, 0 }));
        Assert.That(r.FalseNegatives, Is.EqualTo(new[] { 1, 2, 0, 2 }));
        Assert.That(r.TrueNegatives, Is.EqualTo(new[] { 1, 1, 4, 0 }));
        Assert.That(r.Precision, Is.EqualTo(new[] { 200.0 / 3, 0, 0, 100 }).Within(1e-12));
        Assert.That(r.Recall, Is.EqualTo(new[] { 200.0 / 3, 0, 0, 60 }).Within(1e-12));
        Assert.That(r.F1, Is.EqualTo(new[] { 200.0 / 3, 0, 0, 75 }).Within(1e-12));
    }

    [Test]
    public void ClassMeansCountEveryClassAndOverallUsesSummedCounts()
    {
        var r = ThresholdMetrics.Compute(Scores, Targets, samples: 5, classes: 4, threshold: 0.5f);

        Assert.That(r.PrecisionPerClass, Is.EqualTo((200.0 / 3 + 100) / 4).Within(1e-12));
        Assert.That(r.RecallPerClass, Is.EqualTo((200.0 / 3 + 60) / 4).Within(1e-12));
        Assert.That(r.F1PerClass, Is.EqualTo((200.0 / 3 + 75) / 4).Within(1e-12), "mean of per-class F1, not F1 of the means");
        // Sums: TP 5, TP + FP 5 + 4 = 9, TP + FN 5 + 5 = 10.
        Assert.That(r.PrecisionOverall, Is.EqualTo(500.0 / 9).Within(1e-12));
        Assert.That(r.RecallOverall, Is.EqualTo(50).Within(1e-12));
        Assert.That(r.F1Overall, Is.EqualTo(2 * (500.0 / 9) * 50 / (500.0 / 9 + 50)).Within(1e-12));
    }

    [Test]
    public void ThresholdIsComparedStrictlyInFloat32()
    {
        // 0.8 as a float32 is 0.800000011920929: a score of 0.8f equals the float32 threshold and is not predicted,
        // as in PyTorch's output.gt(0.8); compared in float64 it would be above 0.8.
        var r = ThresholdMetrics.Compute([0.8f, 0.80000007f], [1, 1], samples: 2, classes: 1, threshold: 0.8f);
        Assert.That(r.TruePositives[0], Is.EqualTo(1));
        Assert.That(r.FalseNegatives[0], Is.EqualTo(1));
    }

    [Test]
    public void AllNegativeThresholdGivesZerosInsteadOfNaN()
    {
        // Nothing is above 1: no prediction at all. validate.py would print nan for P_O and F_O (0 / 0).
        var r = ThresholdMetrics.Compute(Scores, Targets, samples: 5, classes: 4, threshold: 1f);
        Assert.That(r.TruePositives, Is.All.Zero);
        Assert.That(r.FalsePositives, Is.All.Zero);
        Assert.That(r.FalseNegatives, Is.EqualTo(new[] { 3, 2, 0, 5 }));
        Assert.That(new[] { r.PrecisionPerClass, r.RecallPerClass, r.F1PerClass, r.PrecisionOverall, r.RecallOverall, r.F1Overall }, Is.All.Zero);
    }

    [Test]
    public void EverythingPredictedAndNoPositivesAnywhere()
    {
        var r = ThresholdMetrics.Compute([0.9f, 0.9f, 0.9f, 0.9f], [0, 0, 0, 0], samples: 2, classes: 2, threshold: 0.5f);
        Assert.That(r.FalsePositives, Is.EqualTo(new[] { 2, 2 }));
        Assert.That(r.PrecisionOverall, Is.Zero, "0 of 4 predictions right");
        Assert.That(r.RecallOverall, Is.Zero, "no positive: 0 / 0, given as 0");
        Assert.That(r.F1Overall, Is.Zero);
    }

    [Test]
    public void NaNScoresAreNotPredicted()
    {
        var r = ThresholdMetrics.Compute([float.NaN, 0.9f], [1, 1], samples: 2, classes: 1, threshold: 0.5f);
        Assert.That(r.TruePositives[0], Is.EqualTo(1));
        Assert.That(r.FalseNegatives[0], Is.EqualTo(1));
    }

    [Test]
    public void BadInputsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => ThresholdMetrics.Compute(Scores, Targets, samples: 4, classes: 4, threshold: 0.5f));
        Assert.Throws<ArgumentException>(() => ThresholdMetrics.Compute(Scores, Targets.AsSpan(1), samples: 5, classes: 4, threshold: 0.5f));
        Assert.Throws<ArgumentException>(() => ThresholdMetrics.Compute(Scores, Targets, samples: 5, classes: 4, threshold: float.NaN));
        var soft = (float[])Targets.Clone();
        soft[6] = 0.5f;
        var e = Assert.Throws<ArgumentException>(() => ThresholdMetrics.Compute(Scores, soft, samples: 5, classes: 4, threshold: 0.5f))!;
        Assert.That(e.Message, Does.Contain("targets[1, 2] is 0.5"));
    }

    [Test]
    public void NoSamplesGiveZeroCounts()
    {
        var r = ThresholdMetrics.Compute([], [], samples: 0, classes: 3, threshold: 0.5f);
        Assert.That(r.TruePositives, Is.EqualTo(new[] { 0, 0, 0 }));
        Assert.That(r.F1Overall, Is.Zero);
    }
}
