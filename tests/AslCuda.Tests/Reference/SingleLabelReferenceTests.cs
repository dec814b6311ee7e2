using AslCuda.Reference;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Reference;

/// <summary>The single-label oracle (ASL.md section 2) against hand values and central finite differences.</summary>
public class SingleLabelReferenceTests
{
    private static IEnumerable<SingleLabelOptions> Options() =>
        SingleLabelTestData.OptionGrid().Append(new SingleLabelOptions { GammaPos = 0.5, GammaNeg = 1.5, Eps = 0.3 });

    [TestCaseSource(nameof(Options))]
    public void GradientMatchesCentralFiniteDifferences(SingleLabelOptions options)
    {
        var random = TestData.NewRandom();
        const int rows = 4, classes = 6;
        // Moderate logits keep 1 - P_t away from 0, where fractional gamma_pos makes the loss non-smooth.
        var logits = new double[rows * classes];
        for (int i = 0; i < logits.Length; i++) logits[i] = random.NextDouble() * 6 - 3;
        var targets = SingleLabelTestData.Targets(random, rows, classes);

        var gradient = SingleLabelReference.Gradient(logits, targets, classes, options);
        var numeric = new double[logits.Length];
        const double h = 1e-5;
        for (int i = 0; i < logits.Length; i++)
        {
            // For reduction none each row's loss depends on its own logits only, so d(row loss)/dx is the derivative.
            int row = i / classes;
            double saved = logits[i];
            logits[i] = saved + h;
            double plus = LossOfRow(logits, targets, classes, options, row);
            logits[i] = saved - h;
            double minus = LossOfRow(logits, targets, classes, options, row);
            logits[i] = saved;
            numeric[i] = (plus - minus) / (2 * h);
        }
        Assert.That(TestData.RelativeError(gradient, numeric), Is.LessThan(1e-7));
    }

    private static double LossOfRow(double[] logits, long[] targets, int classes, SingleLabelOptions options, int row)
    {
        var loss = SingleLabelReference.Loss(logits, targets, classes, options);
        return options.Reduction == AslReduction.None ? loss[row] : loss[0];
    }

    [Test]
    public void WithoutFocusingOrSmoothingTheLossIsCrossEntropy()
    {
        var options = new SingleLabelOptions { GammaPos = 0, GammaNeg = 0, Eps = 0, Reduction = AslReduction.None };
        double[] logits = [1.0, 2.0, 0.5];
        double expected = -(2.0 - Math.Log(Math.Exp(1.0) + Math.Exp(2.0) + Math.Exp(0.5)));
        Assert.That(SingleLabelReference.Loss(logits, [1], 3, options)[0], Is.EqualTo(expected).Within(1e-15));
    }

    [Test]
    public void HandComputedRowWithFocusingAndSmoothing()
    {
        var options = new SingleLabelOptions { GammaPos = 1, GammaNeg = 2, Eps = 0.3, Reduction = AslReduction.Sum };
        double[] logits = [0.0, Math.Log(3.0)];                          // P = [1/4, 3/4]
        double p0 = 0.25, p1 = 0.75;
        double s0 = 0.15, s1 = 0.7 + 0.15;                               // target 1: (1 - eps) + eps/C
        double expected = -(s0 * Math.Pow(p0, 2) * Math.Log(p0) + s1 * (1 - p1) * Math.Log(p1));
        Assert.That(SingleLabelReference.Loss(logits, [1], 2, options)[0], Is.EqualTo(expected).Within(1e-15));
    }

    [Test]
    public void MeanIsOverRows()
    {
        var random = TestData.NewRandom();
        var logits = TestData.Logits(random, 5 * 4);
        var targets = SingleLabelTestData.Targets(random, 5, 4);
        double sum = SingleLabelReference.Loss(logits, targets, 4, new SingleLabelOptions { Reduction = AslReduction.Sum })[0];
        double mean = SingleLabelReference.Loss(logits, targets, 4, new SingleLabelOptions())[0];
        Assert.That(mean, Is.EqualTo(sum / 5).Within(1e-12).Percent);
    }

    [Test]
    public void DefaultsAreThePaperCodes()
    {
        var options = new SingleLabelOptions();
        Assert.Multiple(() =>
        {
            Assert.That(options.GammaPos, Is.EqualTo(0));
            Assert.That(options.GammaNeg, Is.EqualTo(4));
            Assert.That(options.Eps, Is.EqualTo(0.1));
            Assert.That(options.Reduction, Is.EqualTo(AslReduction.Mean));
        });
    }

    [Test]
    public void InvalidOptionsAreRejectedWhenSet()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new SingleLabelOptions { GammaPos = -1 }, Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("GammaPos"));
            Assert.That(() => new SingleLabelOptions { GammaNeg = double.NaN }, Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("GammaNeg"));
            Assert.That(() => new SingleLabelOptions { GammaNeg = double.PositiveInfinity }, Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new SingleLabelOptions { Eps = 1.5 }, Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("label smoothing"));
            Assert.That(() => new SingleLabelOptions { Eps = -0.1 }, Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new SingleLabelOptions { Reduction = (AslReduction)7 }, Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new SingleLabelOptions() with { Eps = 2 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void TargetOutOfRangeIsRejected()
    {
        Assert.That(() => SingleLabelReference.Loss([1.0, 2.0], [2], 2, new SingleLabelOptions()),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("[0, 2)"));
    }

    [Test]
    public void ConfidentRowKeepsItsTinyLossAndFiniteGradient()
    {
        // x_t = 40 over six zeros: 1 - P_t = 6e^-40 / (1 + 6e^-40) ~ 2.5e-17, which 1 - P_t as a float64
        // difference rounds to 0 (and (1 - P_t)^(gamma_pos - 1) to infinity).
        double[] logits = [0, 0, 0, 40, 0, 0, 0];
        var options = new SingleLabelOptions { GammaPos = 0.5, GammaNeg = 4, Eps = 0 };
        double u = 6 * Math.Exp(-40);                       // 1 - P_t to float64 precision (u^2 is below it)
        double expected = -Math.Sqrt(u) * -u;               // -(1 - P_t)^0.5 * log P_t, log P_t = -u
        Assert.That(SingleLabelReference.RowLoss(logits, 3, options), Is.EqualTo(expected).Within(1e-9).Percent);
        var gradient = new double[7];
        SingleLabelReference.RowGradient(logits, 3, options, gradient);
        Assert.That(gradient.All(double.IsFinite), string.Join(", ", gradient));
        Assert.That(gradient.Sum(), Is.EqualTo(0).Within(1e-25), "softmax gradients sum to zero");
    }
}
