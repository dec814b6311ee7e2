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
    public void DenominatorCarriesThePaperCodesEpsilon()
    {
        // One positive ranked first: precision 1 at its rank, AP = 1 / (1 + 1e-8), not 1 (TRESNET.md 3.3).
        Assert.That(MeanAveragePrecision.AveragePrecision([0.9f, 0.1f], [1, 0]), Is.EqualTo(1 / (1 + 1e-8)));
        // Positives at ranks 2 and 4 of 4: (1/2 + 2/4) / (2 + 1e-8).
        Assert.That(MeanAveragePrecision.AveragePrecision([0.9f, 0.8f, 0.7f, 0.6f], [0, 1, 0, 1]), Is.EqualTo((0.5 + 0.5) / (2 + 1e-8)));
        // mAP is 100 x the mean, with the class without positives counted as 0.
        var result = MeanAveragePrecision.Compute([0.9f, 0.2f, 0.1f, 0.3f], [1, 0, 0, 0], samples: 2, classes: 2);
        Assert.That(result.Map, Is.EqualTo(100 * (1 / (1 + 1e-8) + 0) / 2));
    }

    [Test]
    public void TiesBetweenPositivesAndNegativesFollowSampleOrder()
    {
        // Scores 0.7 0.5 0.5 0.5 0.2 with positives at samples 3 and 4: ranks 4 (last of the tie) and 5.
        // AP = (1/4 + 2/5) / 2 = 0.325. Reversed order within the tie (numpy's for short columns) would rank
        // sample 3 second: (1/2 + 2/5) / 2 = 0.45.
        Assert.That(MeanAveragePrecision.AveragePrecision([0.7f, 0.5f, 0.5f, 0.5f, 0.2f], [0, 0, 0, 1, 1]),
            Is.EqualTo((0.25 + 0.4) / (2 + 1e-8)).Within(1e-15));
    }

    [Test]
    public void NoSamplesGiveZeroMap()
    {
        var result = MeanAveragePrecision.Compute([], [], samples: 0, classes: 3);
        Assert.That(result.Map, Is.Zero);
        Assert.That(result.AveragePrecision, Is.All.Zero);
    }

    [Test]
    public void MismatchedShapesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => MeanAveragePrecision.Compute(Scores, Targets, samples: 3, classes: 3));
        Assert.Throws<ArgumentException>(() => MeanAveragePrecision.Compute(Scores, Targets.AsSpan(1), samples: 4, classes: 3));
    }
}
