using AslCuda.Cpu;
using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.Tests.TorchSharp;

/// <summary>
/// What every kind of bad input gets, as a table: shape, rank, dtype, device, values, options, lifetime, and the
/// core passes' pointer API. Each row names the exact exception type and words of its message (the argument and the
/// offending value), or the exact value. Autograd modes, threading and checkpoints, which need more than one call,
/// are the tests below the table and in <see cref="AutogradModeTests"/> and Training/CheckpointTests.
/// </summary>
public unsafe class BadInputMatrixTests
{
    public sealed record Row(string Name, Action Act, Type Exception, params string[] Words)
    {
        public override string ToString() => Name;
    }

    private static Tensor Logits(params long[] shape) => torch.randn(shape, ScalarType.Float32);
    private static Tensor Targets(params long[] shape) => torch.zeros(shape, ScalarType.Float32);
    private static Tensor MultiLabel(Tensor x, Tensor y, AslBackend backend = AslBackend.Fused) => AslFunctional.asymmetric_loss(x, y, backend: backend);
    private static Tensor SingleLabel(Tensor x, Tensor t, AslBackend backend = AslBackend.Fused) => AslFunctional.asymmetric_loss_single_label(x, t, backend: backend);

    /// <summary>The pointer forms, with addresses as nint (iterators cannot hold pointers); no buffer is ever read.</summary>
    private static double MultiLabelPointers(AslDataType logitType, nint input, AslDataType targetType, nint target, long count, AslOptions options) =>
        MultiLabelCpu.Compute(logitType, (void*)input, targetType, (void*)target, count, options, null, null, out _, false);

    private static double SingleLabelPointers(AslDataType logitType, nint input, AslIndexType targetType, nint target, long rows, long classes,
        SingleLabelOptions options) =>
        SingleLabelCpu.Compute(logitType, (void*)input, targetType, (void*)target, rows, classes, options, null, null);

    private static Tensor Disposed(Tensor t)
    {
        t.Dispose();
        return t;
    }

    private static Tensor TargetWith(float value, int flatIndex)
    {
        var y = Targets(3, 4);
        y.view(-1)[flatIndex] = value;
        return y;
    }

    public static IEnumerable<Row> Rows()
    {
        // Shape and rank
        yield return new("multi-label shapes differ", () => MultiLabel(Logits(4, 5), Targets(4, 6)), typeof(ArgumentException),
            "input has shape [4, 5] but target has shape [4, 6]", "target");
        yield return new("single-label input of rank 3", () => SingleLabel(Logits(2, 3, 4), torch.zeros(2, ScalarType.Int64)), typeof(ArgumentException),
            "input must be [N, C] logits, got shape [2, 3, 4]", "input");
        yield return new("single-label target of rank 2", () => SingleLabel(Logits(2, 3), torch.zeros(2, 1, ScalarType.Int64)), typeof(ArgumentException),
            "target must be [N] class indices, got shape [2, 1]", "target");
        yield return new("single-label rows differ", () => SingleLabel(Logits(4, 3), torch.zeros(5, ScalarType.Int64)), typeof(ArgumentException),
            "input has 4 rows", "target has 5");
        // Element types
        yield return new("multi-label integer logits", () => MultiLabel(torch.zeros(2, 3, ScalarType.Int64), Targets(2, 3)), typeof(ArgumentException),
            "input must be float32, float64, float16 or bfloat16 logits, got Int64", "input");
        yield return new("multi-label int64 targets", () => MultiLabel(Logits(2, 3), torch.zeros(2, 3, ScalarType.Int64)), typeof(ArgumentException),
            "target must be a floating point tensor", "got Int64", "target");
        yield return new("single-label float targets", () => SingleLabel(Logits(2, 3), torch.zeros(2, ScalarType.Float32)), typeof(ArgumentException),
            "target must be int64 or int32 class indices, got Float32", "target");
        // Devices
        yield return new("multi-label target on another device", () => MultiLabel(Logits(2, 3), torch.zeros(2, 3, device: torch.META)), typeof(ArgumentException),
            "input is on cpu but target is on meta", "target");
        yield return new("fused on a meta device", () => MultiLabel(torch.zeros(2, 3, device: torch.META), torch.zeros(2, 3, device: torch.META)), typeof(NotSupportedException),
            "the fused backend runs on CPU and CUDA tensors, not on meta", "AslBackend.Composed");
        // Values
        yield return new("multi-label target above 1", () => MultiLabel(Logits(3, 4), TargetWith(2, 7)), typeof(ArgumentException),
            "target[7] = 2 (flat index) is not in [0, 1]", "target");
        yield return new("multi-label NaN target", () => MultiLabel(Logits(3, 4), TargetWith(float.NaN, 5)), typeof(ArgumentException),
            "target[5] = NaN (flat index) is not in [0, 1]");
        yield return new("multi-label negative soft target", () => MultiLabel(Logits(3, 4), TargetWith(-0.25f, 11)), typeof(ArgumentException),
            "target[11] = -0.25 (flat index)");
        yield return new("multi-label uint8 target 2", () => MultiLabel(Logits(3, 4), TargetWith(2, 3).to_type(ScalarType.Byte)), typeof(ArgumentException),
            "target[3] = 2 (flat index)");
        yield return new("single-label class out of range", () => SingleLabel(Logits(3, 5), torch.tensor(new long[] { 0, 9, 1 })), typeof(ArgumentException),
            "target[1] = 9 is not a class index in [0, 5)", "target");
        yield return new("single-label negative class", () => SingleLabel(Logits(3, 5), torch.tensor(new long[] { 0, 1, -1 }), AslBackend.Composed), typeof(ArgumentException),
            "target[2] = -1 is not a class index in [0, 5)");
        // Options
        yield return new("eps below float's smallest normal", () => new AsymmetricLoss(eps: 1e-40), typeof(ArgumentOutOfRangeException),
            "eps must lie in [1.1754943508222875E-38, 1)", "Eps", "1E-40");
        yield return new("eps 0", () => new AsymmetricLoss(eps: 0), typeof(ArgumentOutOfRangeException), "eps must lie in");
        yield return new("gamma_neg beyond float32", () => new AsymmetricLoss(gammaNeg: 1e37), typeof(ArgumentOutOfRangeException),
            "GammaNeg must lie in [0, 1E+36]", "1E+37");
        yield return new("gamma_pos NaN", () => new AsymmetricLoss(gammaPos: double.NaN), typeof(ArgumentOutOfRangeException), "GammaPos must lie in [0, 1E+36]");
        yield return new("single-label gamma_neg infinite", () => new AsymmetricLossSingleLabel(gammaNeg: double.PositiveInfinity), typeof(ArgumentOutOfRangeException),
            "GammaNeg must lie in [0, 1E+36]");
        yield return new("adaptive bound beyond float32", () => new AdaptiveAsymmetry(new AsymmetricLoss(), 0.1, 0.5, gammaMax: 1e37), typeof(ArgumentOutOfRangeException),
            "gammaMax must lie in [gammaMin (0), 1E+36]", "gammaMax");
        yield return new("module options set to null", () => new AsymmetricLoss().Options = null!, typeof(ArgumentNullException), "value");
        // Lifetime and layout
        yield return new("disposed input", () => MultiLabel(Disposed(Logits(2, 3)), Targets(2, 3)), typeof(ArgumentException),
            "input is a disposed tensor", "input");
        yield return new("disposed target", () => MultiLabel(Logits(2, 3), Disposed(Targets(2, 3))), typeof(ArgumentException),
            "target is a disposed tensor", "target");
        yield return new("disposed single-label target", () => SingleLabel(Logits(2, 3), Disposed(torch.zeros(2, ScalarType.Int64))), typeof(ArgumentException),
            "target is a disposed tensor");
        yield return new("sparse input", () => MultiLabel(Logits(2, 3).to_sparse(), Targets(2, 3)), typeof(ArgumentException),
            "input is a sparse tensor (shape [2, 3])", "to_dense()");
        yield return new("null input", () => MultiLabel(null!, Targets(2, 3)), typeof(ArgumentNullException), "input");
        // The core passes' pointer API
        yield return new("multi-label unknown logit type", () => MultiLabelPointers((AslDataType)99, 16, AslDataType.Float32, 16, 4, new AslOptions()), typeof(ArgumentOutOfRangeException), "logitType 99 is not an AslDataType");
        yield return new("multi-label unknown target type", () => MultiLabelPointers(AslDataType.Float32, 16, (AslDataType)99, 16, 4, new AslOptions()), typeof(ArgumentOutOfRangeException), "targetType 99 is not an AslDataType");
        yield return new("multi-label null input pointer", () => MultiLabelPointers(AslDataType.Float32, 0, AslDataType.Float32, 16, 1L << 40, new AslOptions()), typeof(ArgumentNullException), "input is null but count is 1099511627776");
        yield return new("multi-label null target pointer", () => MultiLabelPointers(AslDataType.Float32, 16, AslDataType.Float32, 0, 8, new AslOptions()), typeof(ArgumentNullException), "target is null but count is 8");
        yield return new("multi-label options null (pointers)", () => MultiLabelPointers(AslDataType.Float32, 0, AslDataType.Float32, 0, 0, null!), typeof(ArgumentNullException), "options");
        yield return new("multi-label options null (spans)", () => MultiLabelCpu.Compute<float, float>([1f], [0f], null!), typeof(ArgumentNullException), "options");
        yield return new("single-label unknown logit type", () => SingleLabelPointers((AslDataType)99, 16, AslIndexType.Int64, 16, 1, 1, new SingleLabelOptions()), typeof(ArgumentOutOfRangeException), "logitType 99 is not an AslDataType");
        yield return new("single-label unknown index type", () => SingleLabelPointers(AslDataType.Float32, 16, (AslIndexType)7, 16, 1, 1, new SingleLabelOptions()), typeof(ArgumentOutOfRangeException), "targetType 7 is not an AslIndexType");
        yield return new("single-label null input pointer", () => SingleLabelPointers(AslDataType.Float32, 0, AslIndexType.Int64, 16, 1000, 1000, new SingleLabelOptions()), typeof(ArgumentNullException), "input is null but holds 1000 x 1000 logits");
        yield return new("single-label options null", () => SingleLabelCpu.Compute<float, long>([1f], [0L], 1, null!), typeof(ArgumentNullException), "options");
    }

    [TestCaseSource(nameof(Rows))]
    public void BadInputGetsItsExactException(Row row)
    {
        var error = Assert.Throws(row.Exception, () => row.Act());
        foreach (string word in row.Words)
            Assert.That(error!.Message, Does.Contain(word), row.Name);
    }

    // Rows whose outcome is a value.

    [Test]
    public void EmptyBatchGivesZeroSumAndNaNMean([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        Assert.That(AslFunctional.asymmetric_loss(Logits(0, 5), Targets(0, 5), reduction: Reduction.Sum, backend: backend).item<float>(), Is.EqualTo(0));
        Assert.That(AslFunctional.asymmetric_loss(Logits(0, 5), Targets(0, 5), reduction: Reduction.Mean, backend: backend).item<float>(), Is.NaN);
    }

    [Test]
    public void NaNLogitGivesNaNLossAndGradientOnBothBackends([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        var x = Logits(3, 4);
        x[1, 2] = torch.tensor(float.NaN);
        var leaf = x.requires_grad_(true);
        var loss = MultiLabel(leaf, Targets(3, 4), backend);
        loss.backward();
        Assert.That(loss.item<float>(), Is.NaN);
        Assert.That(leaf.grad![1, 2].item<float>(), Is.NaN);
    }

    [Test]
    public void InfiniteMultiLabelLogitsGiveTheClampedLossAndZeroGradientLikeComposed()
    {
        var y = torch.tensor(new float[] { 0, 1, 0, 1, 0 });
        (float[] Loss, float[] Grad) Run(AslBackend backend)
        {
            var x = torch.tensor(new[] { float.PositiveInfinity, float.PositiveInfinity, float.NegativeInfinity, float.NegativeInfinity, 0.5f })
                .requires_grad_(true);
            var loss = AslFunctional.asymmetric_loss(x, y, reduction: Reduction.None, backend: backend);
            loss.sum().backward();
            return (loss.data<float>().ToArray(), x.grad!.data<float>().ToArray());
        }
        var expected = Run(AslBackend.Composed);
        var actual = Run(AslBackend.Fused);
        Assert.That(actual.Loss, Is.EqualTo(expected.Loss).Within(1e-4).Percent);
        Assert.That(actual.Grad.Take(4), Is.All.EqualTo(0f));
        Assert.That(actual.Loss.All(float.IsFinite) && actual.Grad.All(float.IsFinite));
    }

    [Test]
    public void SmallestEpsAndLargestGammaGiveFiniteLossAndGradient()
    {
        // Defect: eps = 1e-46 rounded to 0 in float32 and logits of +-100 without clip got NaN gradients; a gamma
        // beyond float's range gave NaN. The limits that are accepted must give finite results.
        var x = torch.tensor(new float[] { -100, 100, -100, 100, 3, -3 }, [3, 2]).requires_grad_(true);
        var y = torch.tensor(new float[] { 1, 0, 0, 1, 1, 0 }, [3, 2]);
        foreach (var (eps, gamma) in new[] { (AslOptions.MinEps, 4.0), (1e-8, AslOptions.MaxGamma) })
        {
            x.grad?.zero_();
            var loss = AslFunctional.asymmetric_loss(x, y, gammaNeg: gamma, gammaPos: gamma, clip: 0, eps: eps, backend: AslBackend.Fused);
            loss.backward();
            Assert.That(double.IsFinite(loss.item<float>()), $"loss eps={eps} gamma={gamma}");
            Assert.That(x.grad!.isfinite().all().item<bool>(), $"gradient eps={eps} gamma={gamma}");
        }
        var logits = torch.tensor(new float[] { 50, -50, 0, 1, 2, 3 }, [2, 3]).requires_grad_(true);
        var single = AslFunctional.asymmetric_loss_single_label(logits, torch.tensor(new long[] { 1, 2 }), gammaPos: AslOptions.MaxGamma,
            gammaNeg: AslOptions.MaxGamma, backend: AslBackend.Fused);
        single.backward();
        Assert.That(double.IsFinite(single.item<float>()) && logits.grad!.isfinite().all().item<bool>(), "single-label at the largest gamma");
    }

    [Test]
    public void SingleLabelFloat64LogitsNear1e38MatchTheFormula([Values(0, 1, 2)] long target)
    {
        // Defect: x - max overflowed float32 (0 * -inf in the row sums) and gamma * q overflowed where P^gamma is 0:
        // NaN where the formula is finite.
        foreach (var row in new[] { new[] { 1e38, -1e38, 0.0 }, new[] { 3e38, -3e38, 1.0 }, new[] { 1e38, 1e38, -1e38 } })
        {
            (double Loss, double[] Grad) Run(AslBackend backend)
            {
                var x = torch.tensor(row, [1, 3]).requires_grad_(true);
                var loss = AslFunctional.asymmetric_loss_single_label(x, torch.tensor(new[] { target }), gammaPos: 1, backend: backend);
                loss.backward();
                return (loss.item<double>(), x.grad!.data<double>().ToArray());
            }
            var expected = Run(AslBackend.Composed);
            var actual = Run(AslBackend.Fused);
            string what = $"[{string.Join(", ", row)}] target {target}";
            // The row where the target holds the max by 2e38 has loss and gradient exactly 0.
            double[] a = [actual.Loss, .. actual.Grad], e = [expected.Loss, .. expected.Grad];
            if (e.All(v => v == 0)) Assert.That(a, Is.EqualTo(e), what);
            else Assert.That(TestData.RelativeError(a, e), Is.LessThanOrEqualTo(1e-6), what);
        }
    }

    // Statistics: NaN batches, failed forwards, threads.

    [Test]
    public void NaNBatchLeavesGammaNegAlone([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        // Defect: the fused statistics read a NaN logit as p = 0 and the controller moved gamma_neg.
        using var loss = new AsymmetricLoss(backend: backend);
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.3, step: 0.5);
        var x = Logits(4, 6);
        x[2, 3] = torch.tensor(float.NaN);
        var y = torch.tensor(new float[] { 1, 0, 0, 1, 0, 0 }).repeat(4).reshape(4, 6);
        loss.forward(x, y);
        Assert.That(loss.LastStatistics!.Value.Gap, Is.NaN);
        Assert.That(controller.Update(), Is.EqualTo(4));
        Assert.That(controller.LastGap, Is.NaN);
    }

    [Test]
    public void FailedForwardClearsTheStatistics()
    {
        // Defect: the previous batch's statistics survived a forward that threw, and Update applied them twice.
        using var loss = new AsymmetricLoss(backend: AslBackend.Fused);
        var controller = new AdaptiveAsymmetry(loss, targetGap: 0.3, step: 0.5);
        loss.forward(Logits(3, 4), TargetWith(1, 0));
        Assert.That(loss.LastStatistics, Is.Not.Null);
        Assert.Throws<ArgumentException>(() => loss.forward(Logits(3, 4), TargetWith(5, 0)));
        Assert.That(loss.LastStatistics, Is.Null);
        Assert.That(() => controller.Update(), Throws.InvalidOperationException.With.Message.Contains("the last one threw"));
    }

    [Test]
    public void ConcurrentForwardsEachSeeTheirOwnStatistics()
    {
        // Defect: concurrent forwards on one module overwrote each other's LastStatistics. The handshake makes the
        // bad interleaving certain: thread A runs its forward, thread B runs its own, then A reads.
        using var loss = new AsymmetricLoss(backend: AslBackend.Fused) { TrackStatistics = true };
        var x = torch.randn(8, 16);
        var fewPositives = torch.zeros(8, 16);
        fewPositives[.., 0] = torch.tensor(1f);
        var manyPositives = torch.ones(8, 16);
        using var aRan = new SemaphoreSlim(0);
        using var bRan = new SemaphoreSlim(0);
        double seenByA = -1, seenByB = -1;
        var a = new Thread(() =>
        {
            loss.forward(x, fewPositives);
            aRan.Release();
            bRan.Wait();
            seenByA = loss.LastStatistics!.Value.CountPositive;
        });
        var b = new Thread(() =>
        {
            aRan.Wait();
            loss.forward(x, manyPositives);
            seenByB = loss.LastStatistics!.Value.CountPositive;
            bRan.Release();
        });
        a.Start();
        b.Start();
        a.Join();
        b.Join();
        Assert.That(seenByA, Is.EqualTo(8));
        Assert.That(seenByB, Is.EqualTo(128));
    }
}
