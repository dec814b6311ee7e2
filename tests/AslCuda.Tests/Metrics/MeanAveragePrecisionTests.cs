using AslCuda.Metrics;

namespace AslCuda.Tests.Metrics;

public class MeanAveragePrecisionTests
{
    // Four samples, three classes, row-major [sample, class].
    //   class 0: scores 0.9 0.8 0.7 0.6, positives at ranks 1 and 3 -> AP = (1/1 + 2/3) / 2 = 5/6
    //   class 1: all scores tied, positive is sample 2 -> stays at rank 3 -> AP = 1/3
    //   class 2: no positive -> AP = 0
    private static readonly float[] Scores =
    [
        0.9f, 0.5f, 0.1f,
        0.8f, 0.5f, 0.2f,
        0.7f, 0.5f, 0.3f,
        0.6f, 0.5f, 0.4f,
    ];

    private static readonly float[] Targets =
    [
        1, 0, 0,
        0, 0, 0,
        1, 1, 0,
        0, 0, 0,
    ];

    [Test]
    public void PerClassAveragePrecisionMatchesHandComputation()
    {
        var result = MeanAveragePrecision.Compute(Scores, Targets, samples: 4, classes: 3);

        Assert.That(result.AveragePrecision[0], Is.EqualTo(5.0 / 6).Within(1e-7));
        Assert.That(result.AveragePrecision[1], Is.EqualTo(1.0 / 3).Within(1e-7));
        Assert.That(result.AveragePrecision[2], Is.Zero);
        Assert.That(result.PositiveCount, Is.EqualTo(new[] { 2, 1, 0 }));
    }

    [Test]
    public void ClassesWithoutPositivesCountAsZeroInMapOnly()
    {
        var result = MeanAveragePrecision.Compute(Scores, Targets, samples: 4, classes: 3);

        Assert.That(result.Map, Is.EqualTo(100 * (5.0 / 6 + 1.0 / 3) / 3).Within(1e-5));
        Assert.That(result.MapOverClassesWithPositives, Is.EqualTo(100 * (5.0 / 6 + 1.0 / 3) / 2).Within(1e-5));
    }

    [Test]
    public void TiedScoresKeepSampleOrder()
    {
        // With the positive first among equal scores, a stable sort ranks it first.
        Assert.That(MeanAveragePrecision.AveragePrecision([0.5f, 0.5f, 0.5f], [1, 0, 0]), Is.EqualTo(1).Within(1e-7));
        Assert.That(MeanAveragePrecision.AveragePrecision([0.5f, 0.5f, 0.5f], [0, 0, 1]), Is.EqualTo(1.0 / 3).Within(1e-7));
    }

    [Test]
    public void PerfectRankingGivesFullPrecision()
    {
        float[] scores = [0.1f, 0.95f, 0.3f, 0.9f, 0.2f];
        float[] targets = [0, 1, 0, 1, 0];

        Assert.That(MeanAveragePrecision.AveragePrecision(scores, targets), Is.EqualTo(1).Within(1e-7));
    }

    [Test]
    public void MismatchedShapesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => MeanAveragePrecision.Compute(Scores, Targets, samples: 3, classes: 3));
        Assert.Throws<ArgumentException>(() => MeanAveragePrecision.Compute(Scores, Targets.AsSpan(1), samples: 4, classes: 3));
    }
}
