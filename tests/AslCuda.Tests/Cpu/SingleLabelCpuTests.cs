using AslCuda.Cpu;
using AslCuda.Reference;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Cpu;

/// <summary>The fused single-label CPU pass against the float64 oracle, on random inputs (TestData.NewRandom).</summary>
public class SingleLabelCpuTests
{
    private static readonly (int Rows, int Classes)[] Sizes = [(1, 1), (3, 7), (256, 1000), (64, 1001), (50, 33)];

    private static IEnumerable<TestCaseData> SizesAndOptions() =>
        from size in Sizes
        from options in SingleLabelTestData.OptionGrid()
        select new TestCaseData(size.Rows, size.Classes, options);

    [TestCaseSource(nameof(SizesAndOptions))]
    public void Float32MatchesTheOracle(int rows, int classes, SingleLabelOptions options)
    {
        var random = TestData.NewRandom();
        var logits = TestData.Logits(random, rows * classes);
        var targets = SingleLabelTestData.Targets(random, rows, classes);
        CheckAgainstOracle(TestData.ToSingle(logits), v => v, targets, classes, options, tolerance: 1e-5);
    }

    [TestCase(AslReduction.Mean), TestCase(AslReduction.Sum), TestCase(AslReduction.None)]
    public void OtherLogitTypesMatchTheOracle(AslReduction reduction)
    {
        var random = TestData.NewRandom();
        const int rows = 40, classes = 101;
        var options = new SingleLabelOptions { GammaPos = 1, Reduction = reduction };
        var logits = TestData.Logits(random, rows * classes);
        var targets = SingleLabelTestData.Targets(random, rows, classes);
        // The oracle sees the logits as stored, so only the float32 math and the output rounding count.
        CheckAgainstOracle(logits, v => v, targets, classes, options, tolerance: 1e-5);
        CheckAgainstOracle(logits.Select(v => (Half)v).ToArray(), v => (double)v, targets, classes, options, tolerance: 1e-3);
        CheckAgainstOracle(logits.Select(v => (BFloat16)(float)v).ToArray(), v => (float)v, targets, classes, options, tolerance: 8e-3);
    }

    private static void CheckAgainstOracle<T>(T[] logits, Func<T, double> widen, long[] targets, int classes,
        SingleLabelOptions options, double tolerance) where T : unmanaged
    {
        var stored = logits.Select(widen).ToArray();
        var expectedLoss = SingleLabelReference.Loss(stored, targets, classes, options);
        var expectedGradient = SingleLabelReference.Gradient(stored, targets, classes, options);

        var gradient = Poisoned<T>(logits.Length, widen);
        var rowLoss = Poisoned<T>(options.Reduction == AslReduction.None ? targets.Length : 0, widen);
        double loss = SingleLabelCpu.Compute<T, long>(logits, targets, classes, options, gradient, rowLoss);

        var actualLoss = options.Reduction == AslReduction.None ? rowLoss.Select(widen).ToArray() : [loss];
        Assert.Multiple(() =>
        {
            SingleLabelTestData.AssertClose(actualLoss, expectedLoss, tolerance, "loss");
            SingleLabelTestData.AssertClose(gradient.Select(widen).ToArray(), expectedGradient, tolerance, "gradient");
        });
    }

    /// <summary>An output buffer full of NaN, so that an element the pass forgets to write fails the comparison.</summary>
    private static T[] Poisoned<T>(int length, Func<T, double> widen) where T : unmanaged
    {
        var buffer = new T[length];
        var nan = typeof(T) == typeof(float) ? (T)(object)float.NaN
            : typeof(T) == typeof(double) ? (T)(object)double.NaN
            : typeof(T) == typeof(Half) ? (T)(object)Half.NaN
            : (T)(object)(BFloat16)float.NaN;
        Array.Fill(buffer, nan);
        Assert.That(length == 0 || double.IsNaN(widen(buffer[0])));
        return buffer;
    }

    [Test]
    public void ConfidentRowsKeepTheirSmallLossAndGradient()
    {
        // 1 - P_t = 7e^-20 ~ 1.4e-8 rounds to 0 in float32 1 - softmax; the fused pass takes it from the other classes.
        var options = new SingleLabelOptions { GammaPos = 1, GammaNeg = 0, Eps = 0, Reduction = AslReduction.Sum };
        double[] logits = [20, 0, 0, 0, 0, 0, 0, 0];
        double oneMinusPt = 7 * Math.Exp(-20) / (1 + 7 * Math.Exp(-20));
        double expectedLoss = oneMinusPt * -Math.Log(1 - oneMinusPt);
        var gradient = new float[8];
        double loss = SingleLabelCpu.Compute<float, long>(TestData.ToSingle(logits), [0], 8, options, gradient);
        var expectedGradient = SingleLabelReference.Gradient(logits, [0], 8, options);
        Assert.Multiple(() =>
        {
            Assert.That(loss, Is.EqualTo(expectedLoss).Within(1e-5).Percent);
            Assert.That(TestData.RelativeError(TestData.ToDouble(gradient), expectedGradient), Is.LessThan(1e-5));
        });
    }

    [Test]
    public void Int32TargetsGiveTheSameBitsAsInt64()
    {
        var random = TestData.NewRandom();
        var logits = TestData.ToSingle(TestData.Logits(random, 30 * 17));
        var targets = SingleLabelTestData.Targets(random, 30, 17);
        var options = new SingleLabelOptions();
        var gradient64 = new float[logits.Length];
        var gradient32 = new float[logits.Length];
        double loss64 = SingleLabelCpu.Compute<float, long>(logits, targets, 17, options, gradient64);
        double loss32 = SingleLabelCpu.Compute<float, int>(logits, targets.Select(t => (int)t).ToArray(), 17, options, gradient32);
        Assert.That(loss32, Is.EqualTo(loss64));
        Assert.That(gradient32, Is.EqualTo(gradient64));
    }

    [Test]
    public void RepeatedRunsGiveIdenticalBits()
    {
        var random = TestData.NewRandom();
        const int rows = 512, classes = 1000;                          // above the parallel threshold
        var logits = TestData.ToSingle(TestData.Logits(random, rows * classes));
        var targets = SingleLabelTestData.Targets(random, rows, classes);
        var options = new SingleLabelOptions { GammaPos = 1 };
        var first = new float[logits.Length];
        var second = new float[logits.Length];
        double loss1 = SingleLabelCpu.Compute<float, long>(logits, targets, classes, options, first);
        double loss2 = SingleLabelCpu.Compute<float, long>(logits, targets, classes, options, second);
        Assert.That(BitConverter.DoubleToInt64Bits(loss2), Is.EqualTo(BitConverter.DoubleToInt64Bits(loss1)));
        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public void LossWithoutGradientIsTheSameAsWithIt()
    {
        var random = TestData.NewRandom();
        var logits = TestData.ToSingle(TestData.Logits(random, 20 * 50));
        var targets = SingleLabelTestData.Targets(random, 20, 50);
        var options = new SingleLabelOptions { GammaPos = 0.5, GammaNeg = 3.5 };
        double withGradient = SingleLabelCpu.Compute<float, long>(logits, targets, 50, options, new float[logits.Length]);
        double lossOnly = SingleLabelCpu.Compute<float, long>(logits, targets, 50, options);
        Assert.That(lossOnly, Is.EqualTo(withGradient));
    }

    [TestCase(-1L), TestCase(5L), TestCase(1L << 40)]
    public void TargetsOutsideTheClassesAreRejectedNamingRowAndValue(long bad)
    {
        long[] targets = [0, 1, bad, 2];
        var logits = new float[4 * 5];
        Assert.That(() => SingleLabelCpu.Compute<float, long>(logits, targets, 5, new SingleLabelOptions(), new float[20]),
            Throws.ArgumentException.With.Message.Contains($"target[2] = {bad}").And.Message.Contains("[0, 5)"));
    }

    [Test]
    public void MismatchedBuffersAreRejected()
    {
        var options = new SingleLabelOptions();
        Assert.Multiple(() =>
        {
            Assert.That(() => SingleLabelCpu.Compute<float, long>(new float[10], [0, 1], 4, options),
                Throws.ArgumentException.With.Message.Contains("input has 10 elements but 2 targets x 4 classes need 8"));
            Assert.That(() => SingleLabelCpu.Compute<float, long>(new float[8], [0, 1], 4, options, new float[7]),
                Throws.ArgumentException.With.Message.Contains("gradient has 7 elements, expected 8"));
            Assert.That(() => SingleLabelCpu.Compute<float, long>(new float[8], [0, 1], 4, options with { Reduction = AslReduction.None }),
                Throws.ArgumentException.With.Message.Contains("row loss buffer of 2 elements"));
            Assert.That(() => SingleLabelCpu.Compute<int, long>(new int[8], [0, 1], 4, options),
                Throws.TypeOf<NotSupportedException>());
            Assert.That(() => SingleLabelCpu.Compute<float, byte>(new float[8], [0, 1], 4, options),
                Throws.TypeOf<NotSupportedException>().With.Message.Contains("class index"));
        });
    }

    [Test]
    public void EmptyBatch()
    {
        var options = new SingleLabelOptions();
        Assert.Multiple(() =>
        {
            Assert.That(SingleLabelCpu.Compute<float, long>([], [], 10, options, []), Is.NaN, "mean of no rows, as torch");
            Assert.That(SingleLabelCpu.Compute<float, long>([], [], 10, options with { Reduction = AslReduction.Sum }, []), Is.Zero);
            Assert.That(SingleLabelCpu.Compute<float, long>([], [], 10, options with { Reduction = AslReduction.None }, [], []), Is.Zero);
        });
    }

    [Test]
    public void NaNLogitGivesNaNForItsRowOnly()
    {
        float[] logits = [1, float.NaN, 2, 0.5f, 1, 2];
        var gradient = new float[6];
        var rowLoss = new float[2];
        SingleLabelCpu.Compute<float, long>(logits, [0, 2], 3, new SingleLabelOptions { Reduction = AslReduction.None }, gradient, rowLoss);
        Assert.Multiple(() =>
        {
            Assert.That(rowLoss[0], Is.NaN);
            Assert.That(gradient[..3], Is.All.NaN);
            Assert.That(float.IsFinite(rowLoss[1]) && gradient[3..].All(float.IsFinite));
        });
    }
}
