using AslCuda.Reference;
using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Tests.TorchSharp;

/// <summary>The statistics adaptive asymmetry reads (both backends) and the controller that turns gamma_neg.</summary>
public class AdaptiveAsymmetryTests
{
    private static readonly AslBackend[] Backends = [AslBackend.Fused, AslBackend.Composed];

    [Test]
    public void StatisticsMatchTheReference([ValueSource(nameof(Backends))] AslBackend backend, [Values] bool softTargets,
        [Values(ScalarType.Float32, ScalarType.Float64)] ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        var random = TestData.NewRandom();
        // Spread over [-6, 6] so that p takes every value in (0, 1), not just the saturated ends.
        var x = TestData.Logits(random, 48 * 70).Select(v => v / 2).ToArray();
        var y = softTargets ? TestData.SoftTargets(random, x.Length) : TestData.BinaryTargets(random, x.Length, positiveRate: 0.05);
        var logits = torch.tensor(x, [48, 70]).to_type(dtype);
        var xSeen = logits.to_type(ScalarType.Float64).data<double>().ToArray();   // the values after rounding to dtype
        using var loss = new AsymmetricLoss(backend: backend) { TrackStatistics = true };

        loss.call(logits.requires_grad_(true), torch.tensor(y, [48, 70]).to_type(ScalarType.Float32)).backward();

        var expected = MultiLabelReference.Statistics(xSeen, TestData.ToSingle(y).Select(v => (double)v).ToArray());
        var actual = loss.LastStatistics!.Value;
        Assert.That(actual.SumPPositive, Is.EqualTo(expected.SumPPositive).Within(1e-5).Percent);
        Assert.That(actual.CountPositive, Is.EqualTo(expected.CountPositive).Within(1e-5).Percent);
        Assert.That(actual.SumPNegative, Is.EqualTo(expected.SumPNegative).Within(1e-5).Percent);
        Assert.That(actual.CountNegative, Is.EqualTo(expected.CountNegative).Within(1e-5).Percent);
        Assert.That(actual.Gap, Is.EqualTo(expected.Gap).Within(1e-6));
    }

    [Test]
    public void GapBelowTargetRaisesGammaNegByTheRule([ValueSource(nameof(Backends))] AslBackend backend)
    {
        // Positives at p = sigmoid(-1), negatives at p = sigmoid(1): dp = -0.462, far below the target.
        using var loss = new AsymmetricLoss(gammaNeg: 4, backend: backend);
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.3, step: 0.5, gammaMin: 0, gammaMax: 8);
        Forward(loss, positiveLogit: -1, negativeLogit: 1);

        double gap = Sigmoid(-1) - Sigmoid(1);
        Assert.That(controller.Update(), Is.EqualTo(4 + 0.5 * (0.3 - gap)).Within(1e-6));
        Assert.That(loss.GammaNeg, Is.EqualTo(4 + 0.5 * (0.3 - gap)).Within(1e-6));
        Assert.That(controller.LastGap, Is.EqualTo(gap).Within(1e-6));
    }

    [Test]
    public void GapAboveTargetLowersGammaNeg([ValueSource(nameof(Backends))] AslBackend backend)
    {
        using var loss = new AsymmetricLoss(gammaNeg: 4, backend: backend);
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.3, step: 0.5);
        Forward(loss, positiveLogit: 3, negativeLogit: -3);

        Assert.That(controller.Update(), Is.LessThan(4));
    }

    [Test]
    public void GammaNegStaysWithinItsBounds([ValueSource(nameof(Backends))] AslBackend backend)
    {
        using var loss = new AsymmetricLoss(gammaNeg: 4, backend: backend);
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.5, step: 3, gammaMin: 1, gammaMax: 6);

        var seen = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            Forward(loss, positiveLogit: -2, negativeLogit: 2);
            seen.Add(controller.Update());
        }
        Assert.That(seen, Has.All.InRange(1.0, 6.0));
        Assert.That(seen[^1], Is.EqualTo(6), "a persistent gap deficit drives gamma_neg to gammaMax");

        for (int i = 0; i < 5; i++)
        {
            Forward(loss, positiveLogit: 6, negativeLogit: -6);
            seen.Add(controller.Update());
        }
        Assert.That(seen, Has.All.InRange(1.0, 6.0));
        Assert.That(seen[^1], Is.EqualTo(1), "a persistent gap surplus drives gamma_neg to gammaMin");
    }

    [Test]
    public void BatchWithoutPositivesLeavesGammaNegAlone()
    {
        using var loss = new AsymmetricLoss(gammaNeg: 4, backend: AslBackend.Fused);
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.3, step: 1);
        loss.call(torch.zeros(4, 5), torch.zeros(4, 5));

        Assert.That(controller.Update(), Is.EqualTo(4));
        Assert.That(controller.LastGap, Is.NaN);
    }

    [Test]
    public void UpdateBeforeAnyForwardIsAnError()
    {
        using var loss = new AsymmetricLoss();
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.3, step: 1);

        Assert.That(loss.TrackStatistics, Is.True, "the controller turns statistics on");
        Assert.That(() => controller.Update(), Throws.InvalidOperationException.With.Message.Contains("forward"));
    }

    [Test]
    public void InvalidSettingsAreRejected()
    {
        using var loss = new AsymmetricLoss();
        Assert.That(() => new AdaptiveAsymmetry(loss, targetGap: 1, step: 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdaptiveAsymmetry(loss, targetGap: double.NaN, step: 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdaptiveAsymmetry(loss, targetGap: 0.2, step: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdaptiveAsymmetry(loss, targetGap: 0.2, step: double.PositiveInfinity), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdaptiveAsymmetry(loss, targetGap: 0.2, step: 1, gammaMin: -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdaptiveAsymmetry(loss, targetGap: 0.2, step: 1, gammaMin: 3, gammaMax: 2), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdaptiveAsymmetry(null!, targetGap: 0.2, step: 1), Throws.ArgumentNullException);
    }

    /// <summary>A batch whose positives all have one logit and negatives another (one positive per row of four).</summary>
    private static void Forward(AsymmetricLoss loss, double positiveLogit, double negativeLogit)
    {
        using var scope = torch.NewDisposeScope();
        var targets = torch.tensor(new float[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 }, [3, 4]);
        var logits = torch.where(targets == 1, torch.full([3, 4], positiveLogit), torch.full([3, 4], negativeLogit));
        loss.call(logits, targets);
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
