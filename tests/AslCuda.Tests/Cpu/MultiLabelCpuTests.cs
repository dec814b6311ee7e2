using System.Runtime.Intrinsics;
using AslCuda.Cpu;
using AslCuda.Reference;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Cpu;

/// <summary>The fused SIMD CPU pass against the float64 oracle.</summary>
public class MultiLabelCpuTests
{
    private static readonly (int N, int C)[] Sizes = [(1, 1), (3, 7), (1, 13), (128, 80), (64, 9605), (5, 1001), (300, 257)];

    [Test]
    public void Float32MatchesOracleForEveryOptionReductionAndSize(
        [Values(AslReduction.Sum, AslReduction.Mean, AslReduction.None)] AslReduction reduction,
        [Values(false, true)] bool softTargets)
    {
        var random = TestData.NewRandom();
        foreach (var options in TestData.OptionGrid(reduction))
        foreach (var (n, c) in Sizes)
        {
            if (n * c > 10000 && options.GammaNeg != 4) continue;   // the large size once per gradient mode and clip
            var x = TestData.Logits(random, n * c);
            var y = softTargets ? TestData.SoftTargets(random, n * c) : TestData.BinaryTargets(random, n * c);
            var xs = TestData.ToSingle(x);
            var ys = TestData.ToSingle(y);
            CheckAgainstOracle(TestData.ToDouble(xs), TestData.ToDouble(ys), xs, ys, options, 1e-5, $"{n}x{c} {options}");
        }
    }

    [Test]
    public void ByteTargetsMatchOracle([Values(AslReduction.Sum, AslReduction.None)] AslReduction reduction)
    {
        var random = TestData.NewRandom();
        foreach (var options in TestData.OptionGrid(reduction))
        {
            var x = TestData.Logits(random, 128 * 80 + 3);
            var y = TestData.BinaryTargets(random, x.Length);
            var xs = TestData.ToSingle(x);
            CheckAgainstOracle(TestData.ToDouble(xs), y, xs, Array.ConvertAll(y, v => (byte)v), options, 1e-5, options.ToString());
        }
    }

    [Test]
    public void Float64LogitsMatchOracle()
    {
        var random = TestData.NewRandom();
        foreach (var options in TestData.OptionGrid(AslReduction.Mean))
        {
            var x = TestData.Logits(random, 3 * 333);
            var y = TestData.SoftTargets(random, x.Length);
            var ys = TestData.ToSingle(y);
            CheckAgainstOracle(x, TestData.ToDouble(ys), x, ys, options, 1e-5, options.ToString());
        }
    }

    [Test]
    public void HalfAndBFloat16LogitsMatchOracleOnRoundedInputs([Values(AslReduction.Sum, AslReduction.None)] AslReduction reduction)
    {
        var random = TestData.NewRandom();
        foreach (var options in TestData.OptionGrid(reduction))
        {
            var x = TestData.Logits(random, 77 * 13);
            var y = TestData.BinaryTargets(random, x.Length);
            var half = Array.ConvertAll(x, v => (Half)v);
            CheckAgainstOracle(Array.ConvertAll(half, v => (double)v), y, half, TestData.ToSingle(y), options, 1e-2, "half " + options);
            var bf16 = Array.ConvertAll(x, v => (BFloat16)(float)v);
            CheckAgainstOracle(Array.ConvertAll(bf16, v => (double)(float)v), y, bf16, TestData.ToSingle(y), options, 1e-2, "bf16 " + options);
        }
    }

    [Test]
    public void HalfAndBFloat16ConversionsAreExact()
    {
        // Every half value widens exactly (subnormals, inf, NaN included); bf16 rounds to nearest even.
        var all = new Half[65536];
        for (int i = 0; i < all.Length; i++) all[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        var loss = new Half[all.Length];
        var y = new float[all.Length];
        var o = new AslOptions { GammaNeg = 0, GammaPos = 0, Clip = 0, Reduction = AslReduction.None };
        MultiLabelCpu.Compute<Half, float>(all, y, o, default, loss);
        for (int i = 0; i < all.Length; i++)
        {
            double expected = MultiLabelReference.ElementLoss((double)all[i], 0, o);
            if (double.IsNaN(expected)) Assert.That(Half.IsNaN(loss[i]), $"half bits {i:X4}");
            else Assert.That((double)loss[i], Is.EqualTo((double)(Half)expected).Within(Math.Abs(expected) * 2e-3 + 1e-7), $"half bits {i:X4}");
        }
        Assert.That(((BFloat16)1.00390625f).RawValue, Is.EqualTo(0x3F80), "tie rounds to even");
        Assert.That(((BFloat16)1.01171875f).RawValue, Is.EqualTo(0x3F82), "tie rounds to even (up)");
        Assert.That(float.IsNaN((float)(BFloat16)float.NaN));
    }

    [Test]
    public void BothVectorWidthsMatchOracleForBinarySoftAndByteTargets([Values(256, 512)] int bits)
    {
        // The loop body is one generic method for 256- and 512-bit vectors; each width is checked on its own.
        if (bits == 512 && !Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512 on this machine");
        var random = TestData.NewRandom();
        MultiLabelCpu.VectorBitsOverride = bits;
        try
        {
            foreach (var options in TestData.OptionGrid(AslReduction.None).Concat(TestData.OptionGrid(AslReduction.Mean)))
            foreach (int count in new[] { 1, 15, 17, 33, 8192 + 31 })
            {
                var x = TestData.ToSingle(TestData.Logits(random, count));
                var binary = TestData.BinaryTargets(random, count);
                var soft = TestData.SoftTargets(random, count);
                var what = $"{bits}-bit {count} {options}";
                CheckAgainstOracle(TestData.ToDouble(x), binary, x, TestData.ToSingle(binary), options, 1e-5, "binary " + what);
                CheckAgainstOracle(TestData.ToDouble(x), binary, x, Array.ConvertAll(binary, v => (byte)v), options, 1e-5, "uint8 " + what);
                var softSingle = TestData.ToSingle(soft);
                CheckAgainstOracle(TestData.ToDouble(x), TestData.ToDouble(softSingle), x, softSingle, options, 1e-5, "soft " + what);
            }
        }
        finally
        {
            MultiLabelCpu.VectorBitsOverride = null;
        }
    }

    [Test]
    public void VectorWidthsAgreeWithEachOther()
    {
        if (!Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512 on this machine");
        var random = TestData.NewRandom();
        var x = TestData.ToSingle(TestData.Logits(random, 5000));
        var y = TestData.ToSingle(TestData.SoftTargets(random, x.Length));
        var results = new[] { 256, 512 }.Select(bits =>
        {
            MultiLabelCpu.VectorBitsOverride = bits;
            try
            {
                var gradient = Poisoned(x.Length);
                double loss = MultiLabelCpu.Compute<float, float>(x, y, new AslOptions(), gradient);
                return (Loss: loss, Gradient: ToDoubles(gradient));
            }
            finally { MultiLabelCpu.VectorBitsOverride = null; }
        }).ToArray();
        Assert.That(TestData.RelativeError(results[1].Loss, results[0].Loss), Is.LessThanOrEqualTo(1e-6));
        Assert.That(TestData.RelativeError(results[1].Gradient, results[0].Gradient), Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void ClippedAwayNegativesGiveExactZerosAndTheSameResultAsTheFullMath([Values] bool detach, [Values(0.0, 2.5, 4.0)] double gammaNeg)
    {
        // Whole vectors of negatives with p < clip skip the math (loss and gradient are exactly 0 there); asking for
        // statistics turns the skip off, so the two calls must agree, and both must match the oracle. Vectors mix
        // skippable runs with a few other elements at random places.
        var random = TestData.NewRandom();
        var options = new AslOptions { GammaNeg = gammaNeg, Clip = 0.05, DetachFocalWeight = detach, Reduction = AslReduction.None };
        int count = 4099;
        var x = new float[count];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            bool other = random.NextDouble() < 0.02;
            x[i] = other ? (float)(random.NextDouble() * 24 - 12) : (float)(-3.0 - random.NextDouble() * 97);
            y[i] = other && random.Next(2) == 0 ? 1 : 0;
        }
        var loss = Poisoned(count);
        var gradient = Poisoned(count);
        double sum = MultiLabelCpu.Compute<float, float>(x, y, options, gradient, loss);
        var lossNoSkip = Poisoned(count);
        var gradientNoSkip = Poisoned(count);
        double sumNoSkip = MultiLabelCpu.Compute<float, float>(x, y, options, gradientNoSkip, lossNoSkip, out _, computeStatistics: true);
        Assert.That(sum, Is.EqualTo(sumNoSkip), "loss sum with and without the skip");
        for (int i = 0; i < count; i++)
        {
            Assert.That(gradient[i], Is.EqualTo(gradientNoSkip[i]), $"gradient x={x[i]} y={y[i]}");
            Assert.That(loss[i], Is.EqualTo(lossNoSkip[i]), $"loss x={x[i]} y={y[i]}");
            if (y[i] == 0 && x[i] < TestData.ClipKinkLogit - 1e-3)
                Assert.That((loss[i], gradient[i]), Is.EqualTo((0f, 0f)), $"clipped-away negative x={x[i]}");
        }
        CheckAgainstOracle(TestData.ToDouble(x), TestData.ToDouble(y), x, y, options, 1e-5, options.ToString());
    }

    [Test]
    public void LargeInputIsSplitAcrossThreadsAndStaysDeterministic()
    {
        var random = TestData.NewRandom();
        int count = 3 * MultiLabelCpu.ParallelThreshold + 5;
        var x = TestData.ToSingle(TestData.Logits(random, count));
        var y = TestData.ToSingle(TestData.BinaryTargets(random, count));
        var o = new AslOptions { Reduction = AslReduction.Sum };
        var g1 = Poisoned(count);
        var g2 = Poisoned(count);
        double l1 = MultiLabelCpu.Compute<float, float>(x, y, o, g1);
        double l2 = MultiLabelCpu.Compute<float, float>(x, y, o, g2);
        Assert.That(BitConverter.DoubleToInt64Bits(l1), Is.EqualTo(BitConverter.DoubleToInt64Bits(l2)));
        Assert.That(g1.AsSpan().SequenceEqual(g2), "gradients differ between two runs");
        var reference = MultiLabelReference.Loss(Array.ConvertAll(x, v => (double)v), Array.ConvertAll(y, v => (double)v), o)[0];
        Assert.That(TestData.RelativeError(l1, reference), Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void ForwardOnlyGivesTheSameLossAndLeavesNoGradient()
    {
        var random = TestData.NewRandom();
        var x = TestData.ToSingle(TestData.Logits(random, 999));
        var y = TestData.ToSingle(TestData.SoftTargets(random, 999));
        foreach (var o in TestData.OptionGrid(AslReduction.Sum))
        {
            double withGradient = MultiLabelCpu.Compute<float, float>(x, y, o, new float[999]);
            double lossOnly = MultiLabelCpu.Compute<float, float>(x, y, o);
            Assert.That(lossOnly, Is.EqualTo(withGradient), o.ToString());
        }
    }

    [Test]
    public void StatisticsMatchOracle()
    {
        var random = TestData.NewRandom();
        var x = TestData.Logits(random, 70001);
        var y = TestData.SoftTargets(random, x.Length);
        MultiLabelCpu.Compute<float, float>(TestData.ToSingle(x), TestData.ToSingle(y), new AslOptions(), default, default, out var stats, computeStatistics: true);
        var reference = MultiLabelReference.Statistics(x, y);
        Assert.That(TestData.RelativeError(
            [stats.SumPPositive, stats.CountPositive, stats.SumPNegative, stats.CountNegative],
            [reference.SumPPositive, reference.CountPositive, reference.SumPNegative, reference.CountNegative]), Is.LessThanOrEqualTo(1e-6));
        Assert.That(stats.Gap, Is.EqualTo(reference.Gap).Within(1e-5));
    }

    [Test]
    public void NaNLogitsGiveNaNLossAndGradientForThatElementOnly()
    {
        float[] x = [0.5f, float.NaN, -1f, 2f, 3f, -4f, 5f, 6f, 7f];
        var y = new float[x.Length];
        var loss = Poisoned(x.Length);
        var gradient = Poisoned(x.Length);
        MultiLabelCpu.Compute<float, float>(x, y, new AslOptions { Reduction = AslReduction.None }, gradient, loss);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.That(float.IsNaN(loss[i]), Is.EqualTo(i == 1), $"loss[{i}]");
            Assert.That(float.IsNaN(gradient[i]), Is.EqualTo(i == 1), $"gradient[{i}]");
        }
        Assert.That(double.IsNaN(MultiLabelCpu.Compute<float, float>(x, y, new AslOptions())), "the sum carries the NaN");
    }

    [Test]
    public void FarLogitsGiveTheOracleOrZerosBelowFloatRange([Values] bool detach)
    {
        // Elements whose loss and gradient fall under float's normal range come out as exact zeros (no
        // subnormal arithmetic); every other element still matches the oracle.
        foreach (var o in new[] { new AslOptions { GammaNeg = 4, GammaPos = 1, Clip = 0 }, new AslOptions { GammaNeg = 2, GammaPos = 2, Clip = 0 } })
        foreach (float y in new[] { 0f, 1f })
        {
            var options = o with { Reduction = AslReduction.None, DetachFocalWeight = detach };
            var x = Enumerable.Range(0, 1200).Select(i => (y == 0 ? -1 : 1) * (8 + i * 0.05f)).ToArray();
            var loss = Poisoned(x.Length);
            var gradient = Poisoned(x.Length);
            MultiLabelCpu.Compute<float, float>(x, Enumerable.Repeat(y, x.Length).ToArray(), options, gradient, loss);
            for (int i = 0; i < x.Length; i++)
            {
                double refLoss = MultiLabelReference.ElementLoss(x[i], y, options), refGradient = MultiLabelReference.ElementGradient(x[i], y, options);
                Assert.That(loss[i], Is.EqualTo(refLoss).Within(1e-5 * Math.Abs(refLoss) + 1e-36), $"loss x={x[i]} y={y} {options}");
                Assert.That(gradient[i], Is.EqualTo(refGradient).Within(1e-5 * Math.Abs(refGradient) + 1e-36), $"gradient x={x[i]} y={y} {options}");
                Assert.That(float.IsSubnormal(loss[i]) || float.IsSubnormal(gradient[i]), Is.False, $"subnormal result at x={x[i]}");
            }
        }
    }

    [Test]
    public void TargetsOutsideUnitIntervalAreRejected()
    {
        float[] x = new float[20];
        foreach (float bad in new[] { -0.1f, 1.5f, float.NaN })
        {
            var y = new float[20];
            y[17] = bad;
            var e = Assert.Throws<ArgumentException>(() => MultiLabelCpu.Compute<float, float>(x, y, new AslOptions()));
            Assert.That(e!.Message, Does.Contain("[0, 1]"));
        }
        var bytes = new byte[20];
        bytes[3] = 2;
        Assert.Throws<ArgumentException>(() => MultiLabelCpu.Compute<float, byte>(x, bytes, new AslOptions()));
    }

    [Test]
    public void MismatchedBuffersAreRejected()
    {
        Assert.That(() => MultiLabelCpu.Compute<float, float>(new float[4], new float[5], new AslOptions()),
            Throws.ArgumentException.With.Message.Contains("4").And.Message.Contains("5"));
        Assert.That(() => MultiLabelCpu.Compute<float, float>(new float[4], new float[4], new AslOptions(), new float[3]),
            Throws.ArgumentException.With.Message.Contains("gradient"));
        Assert.That(() => MultiLabelCpu.Compute<float, float>(new float[4], new float[4], new AslOptions { Reduction = AslReduction.None }),
            Throws.ArgumentException.With.Message.Contains("reduction none"));
        Assert.That(() => MultiLabelCpu.Compute<int, float>(new int[4], new float[4], new AslOptions()), Throws.InstanceOf<NotSupportedException>());
    }

    [Test]
    public void EmptyInputGivesZeroSumAndNaNMean()
    {
        Assert.That(MultiLabelCpu.Compute<float, float>([], [], new AslOptions()), Is.EqualTo(0));
        Assert.That(MultiLabelCpu.Compute<float, float>([], [], new AslOptions { Reduction = AslReduction.Mean }), Is.NaN);
    }

    [Test]
    public void InvalidOptionsAreRejectedWithTheirName()
    {
        Assert.That(() => new AslOptions { GammaNeg = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("GammaNeg"));
        Assert.That(() => new AslOptions { GammaPos = double.NaN }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("GammaPos"));
        Assert.That(() => new AslOptions { Clip = 1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("clip"));
        Assert.That(() => new AslOptions { Clip = -0.1 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AslOptions { Eps = 0 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("eps"));
        Assert.That(() => new AslOptions { Reduction = (AslReduction)7 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AslOptions() with { GammaNeg = -2 }, Throws.InstanceOf<ArgumentOutOfRangeException>(), "with-copies are checked too");
    }

    internal static T[] Poisoned<T>(int count, T poison) { var a = new T[count]; Array.Fill(a, poison); return a; }

    internal static float[] Poisoned(int count) => Poisoned(count, float.NaN);

    /// <summary>
    /// Runs the fused pass on poisoned outputs and compares loss and gradient with the oracle; <paramref name="classes"/>
    /// is C of the [N, C] input (batchmean and per-class factors).
    /// </summary>
    internal static void CheckAgainstOracle<TLogit, TTarget>(double[] x, double[] y, TLogit[] xs, TTarget[] ys, AslOptions o, double tolerance, string what,
        int classes = 0)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        var poison = PoisonValue<TLogit>();
        var gradient = Poisoned(xs.Length, poison);
        var elementLoss = o.Reduction == AslReduction.None ? Poisoned(xs.Length, poison) : [];
        double loss = MultiLabelCpu.Compute<TLogit, TTarget>(xs, ys, o, gradient, elementLoss, classes);

        var refLoss = MultiLabelReference.Loss(x, y, o, classes);
        var refGradient = MultiLabelReference.Gradient(x, y, o, classes);
        var actualLoss = o.Reduction == AslReduction.None ? ToDoubles(elementLoss) : [loss];
        // The backward-error allowance: what moving each logit and soft target by a few float32 ulps does to the exact result.
        double scale = o.Reduction switch
        {
            AslReduction.Mean => 1.0 / x.Length,
            AslReduction.BatchMean => (double)classes / x.Length,
            _ => 1,
        };
        int Column(int i) => classes > 0 ? i % classes : 0;
        double[] LossAllowance() => BackwardError.ElementAllowance(x, y, (i, xi, yi) => MultiLabelReference.ElementLoss(xi, yi, o, Column(i)), scale);
        BackwardError.AssertClose(actualLoss, refLoss, tolerance,
            o.Reduction == AslReduction.None ? LossAllowance : () => BackwardError.ReducedAllowance(LossAllowance()), "loss " + what);
        BackwardError.AssertClose(ToDoubles(gradient), refGradient, tolerance,
            () => BackwardError.ElementAllowance(x, y, (i, xi, yi) => MultiLabelReference.ElementGradient(xi, yi, o, Column(i)), scale), "gradient " + what);
    }

    internal static T PoisonValue<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? (T)(object)float.NaN
        : typeof(T) == typeof(double) ? (T)(object)double.NaN
        : typeof(T) == typeof(Half) ? (T)(object)Half.NaN
        : (T)(object)(BFloat16)float.NaN;

    internal static double[] ToDoubles<T>(T[] values) where T : unmanaged => Array.ConvertAll(values, v => v switch
    {
        float f => f,
        double d => d,
        Half h => (double)h,
        BFloat16 b => (float)b,
        _ => throw new NotSupportedException(),
    });
}
