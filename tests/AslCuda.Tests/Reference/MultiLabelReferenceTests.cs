using AslCuda.Reference;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Reference;

/// <summary>The float64 oracle against values worked out by hand and against finite differences.</summary>
public class MultiLabelReferenceTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Test]
    public void PositiveElementMatchesHandComputation()
    {
        // y = 1, x = 0.5, gamma_pos = 1: loss = -(1 - p) * log p.
        var o = new AslOptions { GammaPos = 1, GammaNeg = 4, Clip = 0.05 };
        double p = Sigmoid(0.5);
        Assert.That(MultiLabelReference.ElementLoss(0.5, 1, o), Is.EqualTo(-(1 - p) * Math.Log(p)).Within(1e-15));
        // Detached weight: d/dx = -(1 - p) * (1 - p).
        Assert.That(MultiLabelReference.ElementGradient(0.5, 1, o), Is.EqualTo(-(1 - p) * (1 - p)).Within(1e-15));
        // Full gradient adds -log p * d(1 - p)/dx = -log p * (-(p (1 - p))).
        var full = o with { DetachFocalWeight = false };
        Assert.That(MultiLabelReference.ElementGradient(0.5, 1, full),
            Is.EqualTo(-((1 - p) * (1 - p) + Math.Log(p) * -(p * (1 - p)))).Within(1e-15));
    }

    [Test]
    public void NegativeElementWithClipMatchesHandComputation()
    {
        // y = 0, x = 1: xn = min(1 - p + 0.05, 1), weight = (1 - xn)^4, loss = -w log xn.
        var o = new AslOptions { GammaPos = 1, GammaNeg = 4, Clip = 0.05 };
        double p = Sigmoid(1), xn = 1 - p + 0.05, w = Math.Pow(1 - xn, 4);
        Assert.That(MultiLabelReference.ElementLoss(1, 0, o), Is.EqualTo(-w * Math.Log(xn)).Within(1e-15));
        Assert.That(MultiLabelReference.ElementGradient(1, 0, o), Is.EqualTo(-w * (-p * (1 - p) / xn)).Within(1e-15));
    }

    [Test]
    public void ClippedAwayNegativeHasZeroLossAndGradient()
    {
        // p = sigmoid(-4) < clip: xn clamps to 1, log 1 = 0 and clamp(max=1) blocks the gradient.
        var o = new AslOptions { Clip = 0.05 };
        Assert.That(MultiLabelReference.ElementLoss(-4, 0, o), Is.EqualTo(0));
        Assert.That(MultiLabelReference.ElementGradient(-4, 0, o), Is.EqualTo(0));
        Assert.That(MultiLabelReference.ElementGradient(-4, 0, o with { DetachFocalWeight = false }), Is.EqualTo(0));
    }

    [Test]
    public void WithoutFocusingItIsBinaryCrossEntropy()
    {
        var o = new AslOptions { GammaPos = 0, GammaNeg = 0, Clip = 0 };
        double x = -0.7, y = 0.3, p = Sigmoid(x);
        Assert.That(MultiLabelReference.ElementLoss(x, y, o), Is.EqualTo(-(y * Math.Log(p) + (1 - y) * Math.Log(1 - p))).Within(1e-15));
        Assert.That(MultiLabelReference.ElementGradient(x, y, o), Is.EqualTo(p - y).Within(1e-15));
    }

    [Test]
    public void EpsClampsTheLogAndBlocksItsGradient()
    {
        // x = -30, y = 1: p ~ 9.4e-14 < eps, so log p becomes log eps and its gradient is 0.
        var o = new AslOptions { GammaPos = 0, GammaNeg = 0, Clip = 0, Eps = 1e-8 };
        Assert.That(MultiLabelReference.ElementLoss(-30, 1, o), Is.EqualTo(-Math.Log(1e-8)).Within(1e-12));
        Assert.That(MultiLabelReference.ElementGradient(-30, 1, o), Is.EqualTo(0));
    }

    [Test]
    public void ReductionsAgree()
    {
        var o = new AslOptions();
        double[] x = [0.3, -2, 5, 1.5], y = [1, 0, 0, 1];
        var none = MultiLabelReference.Loss(x, y, o with { Reduction = AslReduction.None });
        double sum = MultiLabelReference.Loss(x, y, o with { Reduction = AslReduction.Sum })[0];
        double mean = MultiLabelReference.Loss(x, y, o with { Reduction = AslReduction.Mean })[0];
        Assert.That(sum, Is.EqualTo(none.Sum()).Within(1e-15));
        Assert.That(mean, Is.EqualTo(sum / 4).Within(1e-15));
        var gSum = MultiLabelReference.Gradient(x, y, o with { Reduction = AslReduction.Sum });
        var gMean = MultiLabelReference.Gradient(x, y, o with { Reduction = AslReduction.Mean });
        for (int i = 0; i < 4; i++) Assert.That(gMean[i], Is.EqualTo(gSum[i] / 4).Within(1e-15));
    }

    [Test]
    public void GradientMatchesCentralFiniteDifferencesForEveryOptionCombination()
    {
        var random = TestData.NewRandom();
        foreach (var o in TestData.OptionGrid(AslReduction.Sum))
        foreach (var eps in new[] { 1e-8, 1e-3 })
        {
            var options = o with { Eps = eps };
            for (int k = 0; k < 200; k++)
            {
                double x = random.NextDouble() * 16 - 8;
                double y = (k % 3) switch { 0 => random.NextDouble(), 1 => 1, _ => 0 };
                if (NearKink(x, y, options)) continue;
                double h = 1e-6;
                double numeric = (MultiLabelReference.ElementLoss(x + h, y, options) - MultiLabelReference.ElementLoss(x - h, y, options)) / (2 * h);
                double analytic = options.DetachFocalWeight && options.HasFocusing
                    ? DetachedNumeric(x, y, options, h)
                    : numeric;
                Assert.That(MultiLabelReference.ElementGradient(x, y, options), Is.EqualTo(analytic).Within(1e-6 + 1e-5 * Math.Abs(analytic)),
                    $"x={x} y={y} {options}");
            }
        }
    }

    /// <summary>With a detached weight the gradient is w * d(l0)/dx: differentiate l0 alone.</summary>
    private static double DetachedNumeric(double x, double y, AslOptions o, double h)
    {
        var unweighted = o with { GammaNeg = 0, GammaPos = 0 };
        double dl = (MultiLabelReference.ElementLoss(x + h, y, unweighted) - MultiLabelReference.ElementLoss(x - h, y, unweighted)) / (2 * h);
        return FocalWeight(x, y, o) * dl;
    }

    private static double FocalWeight(double x, double y, AslOptions o)
    {
        double p = Sigmoid(x);
        double xn = o.Clip > 0 ? Math.Min(1 - p + o.Clip, 1) : 1 - p;
        double pt = p * y + xn * (1 - y);
        return Math.Pow(1 - pt, o.GammaPos * y + o.GammaNeg * (1 - y));
    }

    /// <summary>Finite differences are meaningless within h of a clamp's kink.</summary>
    private static bool NearKink(double x, double y, AslOptions o)
    {
        double p = Sigmoid(x);
        return Math.Abs(p - o.Clip) < 1e-4 || Math.Abs(p - o.Eps) < 1e-4 * o.Eps + 1e-9 || Math.Abs(1 - p + o.Clip - o.Eps) < 1e-6;
    }
}
