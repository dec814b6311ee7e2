using AslCuda.Reference;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Reference;

/// <summary>AslCuda's extensions in the float64 oracle (docs/extensions.md): smoothing, pos_weight, per-class weight, batchmean.</summary>
public class ExtensionTermsReferenceTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Test]
    public void TermsMatchTheFormulaComputedByHand()
    {
        // docs/extensions.md: y' = y(1 - s) + s/2; loss = -w_c * (y' pw_c log p + (1 - y') log xn) * (1 - pt)^g, pt and g from y'.
        var o = new AslOptions { GammaNeg = 3, GammaPos = 1, Clip = 0.05, Smoothing = 0.2, ClassWeight = new[] { 0.5f, 2f }, PosWeight = new[] { 3f, 0.25f } };
        foreach (double x in new[] { -2.0, 0.3, 4.0 })
        foreach (double y in new[] { 0.0, 1.0, 0.7 })
        for (int c = 0; c < 2; c++)
        {
            double ys = y * 0.8 + 0.1, p = Sigmoid(x), xn = Math.Min(1 - p + 0.05, 1);
            double l0 = ys * o.PosWeight.Span[c] * Math.Log(p) + (1 - ys) * Math.Log(xn);
            double pt = p * ys + xn * (1 - ys);
            double expected = -o.ClassWeight.Span[c] * l0 * Math.Pow(1 - pt, 1 * ys + 3 * (1 - ys));
            Assert.That(MultiLabelReference.ElementLoss(x, y, o, c), Is.EqualTo(expected).Within(1e-12).Percent, $"x={x} y={y} class {c}");
        }
    }

    [Test]
    public void OnePosWeightValueAppliesToEveryClassAndDefaultsChangeNothing()
    {
        var plain = new AslOptions();
        var neutral = plain with { PosWeight = new[] { 1f }, ClassWeight = new[] { 1f, 1f, 1f } };
        var scalar = plain with { PosWeight = new[] { 2.5f } };
        var perClass = plain with { PosWeight = new[] { 2.5f, 2.5f, 2.5f } };
        foreach (double x in new[] { -3.0, 0.1, 5.0 })
        foreach (double y in new[] { 0.0, 0.4, 1.0 })
        for (int c = 0; c < 3; c++)
        {
            Assert.That(MultiLabelReference.ElementLoss(x, y, neutral, c), Is.EqualTo(MultiLabelReference.ElementLoss(x, y, plain)));
            Assert.That(MultiLabelReference.ElementGradient(x, y, neutral, c), Is.EqualTo(MultiLabelReference.ElementGradient(x, y, plain)));
            Assert.That(MultiLabelReference.ElementLoss(x, y, scalar, c), Is.EqualTo(MultiLabelReference.ElementLoss(x, y, perClass, c)));
        }
    }

    [Test]
    public void BatchMeanIsTheSumOverTheRows()
    {
        var random = TestData.NewRandom();
        var x = TestData.Logits(random, 6 * 5);
        var y = TestData.SoftTargets(random, x.Length);
        var sum = new AslOptions { ClassWeight = new[] { 1f, 2f, 0f, 0.5f, 3f } };
        var batchMean = sum with { Reduction = AslReduction.BatchMean };
        Assert.That(MultiLabelReference.Loss(x, y, batchMean, classes: 5)[0], Is.EqualTo(MultiLabelReference.Loss(x, y, sum, classes: 5)[0] / 6).Within(1e-12).Percent);
        var gSum = MultiLabelReference.Gradient(x, y, sum, classes: 5);
        var gBatchMean = MultiLabelReference.Gradient(x, y, batchMean, classes: 5);
        for (int i = 0; i < x.Length; i++) Assert.That(gBatchMean[i], Is.EqualTo(gSum[i] / 6).Within(1e-15));
        // A zero class weight removes that column from loss and gradient.
        for (int i = 2; i < x.Length; i += 5) Assert.That(gSum[i], Is.EqualTo(0));
    }

    [Test]
    public void GradientMatchesCentralFiniteDifferencesWithTheExtensions()
    {
        var random = TestData.NewRandom();
        foreach (var o in TestData.OptionGrid(AslReduction.Sum))
        foreach (double smoothing in new[] { 0.0, 0.1, 0.9 })
        {
            float weight = (float)(random.NextDouble() * 3), posWeight = (float)(random.NextDouble() * 4);
            var options = o with { Smoothing = smoothing, ClassWeight = new[] { weight }, PosWeight = new[] { posWeight } };
            for (int k = 0; k < 100; k++)
            {
                double x = random.NextDouble() * 16 - 8;
                double y = (k % 3) switch { 0 => random.NextDouble(), 1 => 1, _ => 0 };
                double p = Sigmoid(x);
                if (Math.Abs(p - options.Clip) < 1e-4) continue;   // finite differences straddle the clamp's kink there
                const double h = 1e-6;
                double analytic = MultiLabelReference.ElementGradient(x, y, options);
                double expected = options.DetachFocalWeight && options.HasFocusing
                    ? DetachedNumeric(x, y, options, h)
                    : (MultiLabelReference.ElementLoss(x + h, y, options) - MultiLabelReference.ElementLoss(x - h, y, options)) / (2 * h);
                Assert.That(analytic, Is.EqualTo(expected).Within(1e-6 + 1e-5 * Math.Abs(expected)), $"x={x} y={y} {options} w={weight} pw={posWeight}");
            }
        }
    }

    /// <summary>With a detached weight the gradient is w * d(l0)/dx, l0 carrying pos_weight and the class weight.</summary>
    private static double DetachedNumeric(double x, double y, AslOptions o, double h)
    {
        var unfocused = o with { GammaNeg = 0, GammaPos = 0 };
        double dl = (MultiLabelReference.ElementLoss(x + h, y, unfocused) - MultiLabelReference.ElementLoss(x - h, y, unfocused)) / (2 * h);
        double ys = y * (1 - o.Smoothing) + 0.5 * o.Smoothing, p = Sigmoid(x);
        double xn = o.Clip > 0 ? Math.Min(1 - p + o.Clip, 1) : 1 - p;
        double pt = p * ys + xn * (1 - ys);
        return Math.Pow(1 - pt, o.GammaPos * ys + o.GammaNeg * (1 - ys)) * dl;
    }

    [Test]
    public void BadValuesAreRejectedWithTheirNameAndValue()
    {
        Assert.That(() => new AslOptions { Smoothing = 1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("smoothing").And.Message.Contains("1"));
        Assert.That(() => new AslOptions { Smoothing = -0.1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("-0.1"));
        Assert.That(() => new AslOptions { Smoothing = double.NaN }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AslOptions { ClassWeight = new[] { 1f, -2f } },
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("ClassWeight[1] is -2"));
        Assert.That(() => new AslOptions { PosWeight = new[] { float.NaN } },
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("PosWeight[0] is NaN"));
        Assert.That(() => new AslOptions { PosWeight = new[] { float.PositiveInfinity } }, Throws.InstanceOf<ArgumentOutOfRangeException>());

        var o = new AslOptions { ClassWeight = new[] { 1f, 2f, 3f } };
        Assert.That(() => o.CheckShape(12, 4), Throws.ArgumentException.With.Message.Contains("ClassWeight has 3 values").And.Message.Contains("4 classes"));
        Assert.That(() => (o with { ClassWeight = default, PosWeight = new[] { 1f, 2f } }).CheckShape(12, 3),
            Throws.ArgumentException.With.Message.Contains("PosWeight has 2 values"));
        Assert.That(() => new AslOptions { Reduction = AslReduction.BatchMean }.CheckShape(12, 0),
            Throws.ArgumentException.With.Message.Contains("batchmean").And.Message.Contains("C = 0"));
        Assert.That(() => o.CheckShape(10, 3), Throws.ArgumentException.With.Message.Contains("10 elements"));
        Assert.That(() => new SingleLabelOptions { Reduction = AslReduction.BatchMean }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("batchmean"));
    }

    [Test]
    public void VectorsAreCopiedWhenSet()
    {
        var weights = new[] { 1f, 2f };
        var o = new AslOptions { ClassWeight = weights };
        weights[0] = 100;
        Assert.That(o.ClassWeight.Span[0], Is.EqualTo(1f));
    }
}
