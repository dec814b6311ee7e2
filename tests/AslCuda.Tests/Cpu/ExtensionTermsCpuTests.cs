using System.Runtime.Intrinsics;
using AslCuda.Cpu;
using AslCuda.Reference;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Cpu;

/// <summary>AslCuda's extensions (docs/extensions.md) in the fused CPU pass against the float64 oracle.</summary>
public class ExtensionTermsCpuTests
{
    /// <summary>Per-class weights with a zero among them (class 3 of every 5), so a class can be switched off.</summary>
    private static float[] ClassWeights(int classes) =>
        Enumerable.Range(0, classes).Select(c => c % 5 == 3 ? 0f : 0.25f + c % 4).ToArray();

    private static float[] PosWeights(int classes) => Enumerable.Range(0, classes).Select(c => 3f - c % 3 + 0.5f * (c % 2)).ToArray();

    /// <summary>Bases from the paper code's option grid: its default, the full gradient, fractional gammas without clip, no focusing.</summary>
    private static readonly AslOptions[] Bases =
    [
        new AslOptions(),
        TestOptions.FullGradientBatchMean with { Reduction = AslReduction.Sum },
        new AslOptions { GammaNeg = 2.5, GammaPos = 1.5, Clip = 0, DetachFocalWeight = false },
        new AslOptions { GammaNeg = 0, GammaPos = 0 },
    ];

    /// <summary>Every combination of AslCuda's extensions on <paramref name="baseOptions"/>: smoothing, pos_weight (none, one, [C]), class weight, reduction.</summary>
    private static IEnumerable<AslOptions> TermCombinations(AslOptions baseOptions, int classes)
    {
        foreach (double smoothing in new[] { 0.0, 0.2 })
        foreach (float[] posWeight in new float[][] { [], [2.5f], PosWeights(classes) })
        foreach (float[] classWeight in new float[][] { [], ClassWeights(classes) })
        foreach (var reduction in new[] { AslReduction.Sum, AslReduction.Mean, AslReduction.BatchMean, AslReduction.None })
            yield return baseOptions with { Smoothing = smoothing, PosWeight = posWeight, ClassWeight = classWeight, Reduction = reduction };
    }

    [Test]
    public void EveryTermCombinationMatchesTheOracleForBothWidthsAndEveryTargetKind([Values(256, 512)] int bits, [Values(1, 7, 80)] int classes)
    {
        if (bits == 512 && !Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512 on this machine");
        var random = TestData.NewRandom();
        MultiLabelCpu.VectorBitsOverride = bits;
        try
        {
            // At least ~20 elements: in fewer, one negative just past the clip kink (its loss ~ p - clip, which float32
            // p knows to ~1e-9) can be the whole reference when the others are clipped away to exact zeros.
            int[] rowCounts = classes switch { 1 => [17, 29], 7 => [3, 13], _ => [1, 3] };
            foreach (var baseOptions in Bases)
            foreach (var options in TermCombinations(baseOptions, classes))
            foreach (int rows in rowCounts)
                CheckAllTargetKinds(random, rows, classes, options, $"{bits}-bit");
        }
        finally
        {
            MultiLabelCpu.VectorBitsOverride = null;
        }
    }

    [Test]
    public void LargeInputsAcrossChunksAndThreadsMatchTheOracle([Values(256, 512)] int bits)
    {
        // 111 x 80 crosses a chunk boundary inside a row (8192 mod 80 = 32); 7 x 9605 runs on several threads with
        // chunks starting at arbitrary columns.
        if (bits == 512 && !Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512 on this machine");
        var random = TestData.NewRandom();
        MultiLabelCpu.VectorBitsOverride = bits;
        try
        {
            foreach (var (rows, classes) in new[] { (111, 80), (3, 9605), (7, 9605) })
            foreach (var options in new[]
            {
                TestOptions.FullGradientBatchMean,
                TestOptions.FullGradientBatchMean with { Smoothing = 0.1, PosWeight = PosWeights(classes), ClassWeight = ClassWeights(classes) },
                new AslOptions { PosWeight = new[] { 0.5f }, ClassWeight = ClassWeights(classes), Reduction = AslReduction.None },
                new AslOptions { GammaNeg = 2.5, GammaPos = 0.5, Smoothing = 0.05, PosWeight = PosWeights(classes), Reduction = AslReduction.Mean },
            })
                CheckAllTargetKinds(random, rows, classes, options, $"{bits}-bit");
        }
        finally
        {
            MultiLabelCpu.VectorBitsOverride = null;
        }
    }

    [Test]
    public void Float64LogitsWithExtensionsMatchTheOracle()
    {
        var random = TestData.NewRandom();
        const int rows = 9, classes = 37;
        foreach (var options in TermCombinations(TestOptions.FullGradientBatchMean, classes))
        {
            var x = TestData.Logits(random, rows * classes);
            var ys = TestData.ToSingle(TestData.SoftTargets(random, x.Length));
            MultiLabelCpuTests.CheckAgainstOracle(x, TestData.ToDouble(ys), x, ys, options, 1e-5, options.ToString(), classes);
        }
    }

    private static void CheckAllTargetKinds(Random random, int rows, int classes, AslOptions options, string what)
    {
        int count = rows * classes;
        var x = TestData.ToSingle(TestData.Logits(random, count));
        var binary = TestData.BinaryTargets(random, count);
        var soft = TestData.ToSingle(TestData.SoftTargets(random, count));
        var xd = TestData.ToDouble(x);
        what = $"{what} {rows}x{classes} {options}";
        MultiLabelCpuTests.CheckAgainstOracle(xd, binary, x, TestData.ToSingle(binary), options, 1e-5, "binary " + what, classes);
        MultiLabelCpuTests.CheckAgainstOracle(xd, binary, x, Array.ConvertAll(binary, v => (byte)v), options, 1e-5, "uint8 " + what, classes);
        MultiLabelCpuTests.CheckAgainstOracle(xd, TestData.ToDouble(soft), x, soft, options, 1e-5, "soft " + what, classes);
    }

    [Test]
    public void ResultsAreTheSameBitsForAnyThreadCount()
    {
        var random = TestData.NewRandom();
        const int rows = 41, classes = 9605;                     // 393805 elements: 49 chunks
        var x = TestData.ToSingle(TestData.Logits(random, rows * classes));
        var y = TestData.ToSingle(TestData.SoftTargets(random, x.Length));
        var options = TestOptions.FullGradientBatchMean with { Smoothing = 0.1, PosWeight = PosWeights(classes), ClassWeight = ClassWeights(classes) };

        (double Loss, float[] Gradient) Run()
        {
            var gradient = MultiLabelCpuTests.Poisoned(x.Length);
            return (MultiLabelCpu.Compute<float, float>(x, y, options, gradient, classes: classes), gradient);
        }

        var parallel = Run();
        // Parallel.For schedules on the caller's task scheduler: one that runs one task at a time gives one thread.
        var oneThread = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, maxConcurrencyLevel: 1).ConcurrentScheduler;
        var serial = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.None, oneThread).Result;
        var again = Run();
        foreach (var other in new[] { serial, again })
        {
            Assert.That(BitConverter.DoubleToInt64Bits(other.Loss), Is.EqualTo(BitConverter.DoubleToInt64Bits(parallel.Loss)));
            Assert.That(other.Gradient.AsSpan().SequenceEqual(parallel.Gradient), "gradients differ");
        }
        var reference = MultiLabelReference.Loss(TestData.ToDouble(x), TestData.ToDouble(y), options, classes)[0];
        Assert.That(TestData.RelativeError(parallel.Loss, reference), Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void StatisticsStayOnTheRawLabelsUnderSmoothing()
    {
        var random = TestData.NewRandom();
        var x = TestData.Logits(random, 70001);
        var y = TestData.SoftTargets(random, x.Length);
        var options = TestOptions.FullGradientBatchMean with { Smoothing = 0.3, Reduction = AslReduction.Sum };
        MultiLabelCpu.Compute<float, float>(TestData.ToSingle(x), TestData.ToSingle(y), options, default, default, out var stats, computeStatistics: true);
        var reference = MultiLabelReference.Statistics(x, y);
        Assert.That(TestData.RelativeError(
            [stats.SumPPositive, stats.CountPositive, stats.SumPNegative, stats.CountNegative],
            [reference.SumPPositive, reference.CountPositive, reference.SumPNegative, reference.CountNegative]), Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void NaNLogitsStayNaNWithEveryTerm()
    {
        const int classes = 3;
        float[] x = [0.5f, float.NaN, -1f, 2f, 3f, -4f, 5f, 6f, 7f];
        var y = new float[x.Length];
        var options = new AslOptions { Smoothing = 0.1, PosWeight = PosWeights(classes), ClassWeight = new[] { 1f, 2f, 0f }, Reduction = AslReduction.None };
        var loss = MultiLabelCpuTests.Poisoned(x.Length);
        var gradient = MultiLabelCpuTests.Poisoned(x.Length);
        MultiLabelCpu.Compute<float, float>(x, y, options, gradient, loss, classes);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.That(float.IsNaN(loss[i]), Is.EqualTo(i == 1), $"loss[{i}]");
            Assert.That(float.IsNaN(gradient[i]), Is.EqualTo(i == 1), $"gradient[{i}]");
        }
    }

    [Test]
    public void AClassCountChangesNothingWithoutClassTerms()
    {
        var random = TestData.NewRandom();
        var x = TestData.ToSingle(TestData.Logits(random, 13 * 7));
        var y = TestData.ToSingle(TestData.SoftTargets(random, x.Length));
        foreach (var options in new[] { new AslOptions(), new AslOptions { Smoothing = 0.1, PosWeight = new[] { 2f } } })
        {
            var without = MultiLabelCpuTests.Poisoned(x.Length);
            var with = MultiLabelCpuTests.Poisoned(x.Length);
            double lossWithout = MultiLabelCpu.Compute<float, float>(x, y, options, without);
            double lossWith = MultiLabelCpu.Compute<float, float>(x, y, options, with, classes: 7);
            Assert.That(lossWith, Is.EqualTo(lossWithout), options.ToString());
            Assert.That(with.AsSpan().SequenceEqual(without), options.ToString());
        }
    }

    [Test]
    public void BatchMeanOfEmptyRowsIsNaN()
    {
        Assert.That(MultiLabelCpu.Compute<float, float>([], [], TestOptions.FullGradientBatchMean, classes: 5), Is.NaN);
    }

    [Test]
    public unsafe void BadClassCountsAndVectorsAreRejectedWithArgumentAndValues()
    {
        var x = new float[20];
        var y = new float[20];
        Assert.That(() => MultiLabelCpu.Compute<float, float>(x, y, new AslOptions(), classes: -1),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("classes").And.Message.Contains("-1"));
        Assert.That(() => MultiLabelCpu.Compute<float, float>(x, y, new AslOptions(), classes: 7),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("classes").And.Message.Contains("classes = 7").And.Message.Contains("20"));
        Assert.That(() => MultiLabelCpu.Compute<float, float>(x, y, TestOptions.FullGradientBatchMean),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("classes").And.Message.Contains("batchmean").And.Message.Contains("C = 0"));
        Assert.That(() => MultiLabelCpu.Compute<float, float>(x, y, new AslOptions { ClassWeight = new[] { 1f, 2f, 3f } }, classes: 4),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("ClassWeight").And.Message.Contains("3 values").And.Message.Contains("4 classes"));
        Assert.That(() => MultiLabelCpu.Compute<float, float>(x, y, new AslOptions { PosWeight = new[] { 1f, 2f } }, classes: 4),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("PosWeight").And.Message.Contains("2 values").And.Message.Contains("4 classes"));
        Assert.That(() => new AslOptions { ClassWeight = new[] { 1f, float.NaN } },
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("ClassWeight[1] is NaN"));
        Assert.That(() => new AslOptions { PosWeight = new[] { -1f } },
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("PosWeight[0] is -1"));
        fixed (float* xp = x, yp = y)
        {
            nint xa = (nint)xp, ya = (nint)yp;
            Assert.That(() => MultiLabelCpu.Compute(AslDataType.Float32, (void*)xa, AslDataType.Float32, (void*)ya, 20,
                    new AslOptions { ClassWeight = new[] { 1f, 2f, 3f } }, null, null, out _, false, classes: 3),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("classes").And.Message.Contains("classes = 3").And.Message.Contains("20"));
        }
    }
}
