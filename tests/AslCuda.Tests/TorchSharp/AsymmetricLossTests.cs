using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.Tests.TorchSharp;

/// <summary>The TorchSharp module and functional form: Fused against Composed through backward(), and input checks.</summary>
public class AsymmetricLossTests
{
    private static readonly Reduction[] Reductions = [Reduction.Sum, Reduction.Mean, Reduction.None];

    private static (Tensor X, Tensor Y) Batch(Random random, long n, long c, ScalarType dtype, bool soft, double spread = 1)
    {
        var x = TestData.Logits(random, (int)(n * c)).Select(v => v * spread).ToArray();
        var y = soft ? TestData.SoftTargets(random, x.Length) : TestData.BinaryTargets(random, x.Length);
        return (torch.tensor(x, [n, c]).to_type(dtype), torch.tensor(y, [n, c]).to_type(ScalarType.Float32));
    }

    /// <summary>Loss and d loss / dx through backward(), with a random upstream gradient for reduction none.</summary>
    private static (double[] Loss, double[] Grad) LossAndGradient(Tensor x, Tensor y, Tensor? upstream, AslBackend backend,
        double gammaNeg, double gammaPos, double clip, bool detach, Reduction reduction)
    {
        using var scope = torch.NewDisposeScope();
        var leaf = x.detach().requires_grad_(true);
        var loss = AslFunctional.asymmetric_loss(leaf, y, gammaNeg, gammaPos, clip, 1e-8, detach, reduction, backend);
        Assert.That(loss.dtype, Is.EqualTo(x.dtype), "loss comes back in the input's dtype");
        if (reduction == Reduction.None) loss.backward([upstream!.to_type(x.dtype)]);
        else loss.backward();
        Assert.That(leaf.grad, Is.Not.Null);
        Assert.That(leaf.grad!.dtype, Is.EqualTo(x.dtype), "gradient comes back in the input's dtype");
        return (loss.to_type(ScalarType.Float64).data<double>().ToArray(), leaf.grad!.to_type(ScalarType.Float64).data<double>().ToArray());
    }

    [Test]
    public void FusedMatchesComposedInFloat64ForEveryDtypeReductionAndGradientMode(
        [Values(ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16)] ScalarType dtype)
    {
        var random = TestData.NewRandom();
        double tolerance = dtype is ScalarType.Float16 or ScalarType.BFloat16 ? 1e-2 : 1e-5;
        foreach (var reduction in Reductions)
        foreach (bool detach in new[] { true, false })
        foreach (var (gammaNeg, gammaPos, clip) in new[] { (4.0, 1.0, 0.05), (4.0, 0.0, 0.0), (2.5, 1.5, 0.05), (0.0, 0.0, 0.0) })
        {
            var (x, y) = Batch(random, 37, 81, dtype, soft: random.Next(2) == 0);
            var upstream = torch.rand(37, 81, ScalarType.Float64);
            // Composed in float64 on the same (rounded) inputs is the independent oracle.
            var (refLoss, refGrad) = LossAndGradient(x.to_type(ScalarType.Float64), y, upstream, AslBackend.Composed, gammaNeg, gammaPos, clip, detach, reduction);
            var (loss, grad) = LossAndGradient(x, y, upstream, AslBackend.Fused, gammaNeg, gammaPos, clip, detach, reduction);
            string what = $"{dtype} {reduction} detach={detach} gammas=({gammaNeg},{gammaPos}) clip={clip}";
            Assert.That(TestData.RelativeError(loss, refLoss, 1e-35), Is.LessThanOrEqualTo(tolerance), "loss " + what);
            Assert.That(TestData.RelativeError(grad, refGrad, 1e-35), Is.LessThanOrEqualTo(tolerance), "gradient " + what);
        }
    }

    [Test]
    public void FusedMatchesComposedInFloat32WhereThePaperFormulaIsAccurate([Values] bool detach)
    {
        // For |x| <= 6 the paper code's float32 1 - sigmoid(x) keeps its digits, so both must agree closely.
        var random = TestData.NewRandom();
        foreach (var reduction in Reductions)
        {
            var (x, y) = Batch(random, 128, 80, ScalarType.Float32, soft: false, spread: 0.5);
            x = x.clamp(-6, 6);
            var upstream = torch.rand(128, 80, ScalarType.Float64);
            var (refLoss, refGrad) = LossAndGradient(x, y, upstream, AslBackend.Composed, 4, 1, 0.05, detach, reduction);
            var (loss, grad) = LossAndGradient(x, y, upstream, AslBackend.Fused, 4, 1, 0.05, detach, reduction);
            Assert.That(TestData.RelativeError(loss, refLoss), Is.LessThanOrEqualTo(1e-5), $"loss {reduction}");
            Assert.That(TestData.RelativeError(grad, refGrad), Is.LessThanOrEqualTo(1e-5), $"gradient {reduction}");
        }
    }

    [Test]
    public void ByteBoolAndFloat64TargetsGiveTheSameLossAsFloat32Targets()
    {
        var random = TestData.NewRandom();
        var (x, y) = Batch(random, 9, 33, ScalarType.Float32, soft: false);
        using var criterion = new AsymmetricLoss();
        double expected = criterion.forward(x, y).item<float>();
        foreach (var type in new[] { ScalarType.Byte, ScalarType.Bool, ScalarType.Float64, ScalarType.Float16 })
            Assert.That(criterion.forward(x, y.to_type(type)).item<float>(), Is.EqualTo(expected), type.ToString());
    }

    [Test]
    public void NonContiguousInputGivesTheGradientOfTheOriginal()
    {
        var random = TestData.NewRandom();
        var (x, y) = Batch(random, 80, 24, ScalarType.Float32, soft: true);
        var leaf = x.detach().requires_grad_(true);
        var transposed = leaf.t();                      // [24, 80], not contiguous
        Assert.That(transposed.is_contiguous(), Is.False);
        AslFunctional.asymmetric_loss(transposed, y.t()).backward();
        var reference = x.detach().requires_grad_(true);
        AslFunctional.asymmetric_loss(reference, y, backend: AslBackend.Composed).backward();
        Assert.That(TestData.RelativeError(leaf.grad!.to_type(ScalarType.Float64).data<double>().ToArray(),
            reference.grad!.to_type(ScalarType.Float64).data<double>().ToArray()), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void NoGradComputesTheLossAloneWithoutAGraph()
    {
        var random = TestData.NewRandom();
        var (x, y) = Batch(random, 16, 80, ScalarType.Float32, soft: false);
        var leaf = x.detach().requires_grad_(true);
        float withGraph = AslFunctional.asymmetric_loss(leaf, y).item<float>();
        using (torch.no_grad())
        {
            var loss = AslFunctional.asymmetric_loss(leaf, y);
            Assert.That(loss.requires_grad, Is.False);
            Assert.That(loss.item<float>(), Is.EqualTo(withGraph));
        }
        var plain = AslFunctional.asymmetric_loss(x, y);   // input without requires_grad
        Assert.That(plain.requires_grad, Is.False);
        Assert.That(plain.item<float>(), Is.EqualTo(withGraph));
    }

    [Test]
    public void TwoRunsGiveIdenticalBits()
    {
        var random = TestData.NewRandom();
        var (x, y) = Batch(random, 256, 961, ScalarType.Float32, soft: true);
        var first = LossAndGradient(x, y, null, AslBackend.Fused, 4, 1, 0.05, true, Reduction.Sum);
        var second = LossAndGradient(x, y, null, AslBackend.Fused, 4, 1, 0.05, true, Reduction.Sum);
        Assert.That(first.Loss, Is.EqualTo(second.Loss).AsCollection);
        Assert.That(first.Grad.SequenceEqual(second.Grad), "gradients differ between runs");
    }

    [Test]
    public void EmptyBatchGivesZeroSumNaNMeanAndAnEmptyGradient([Values] AslBackend backend)
    {
        var x = torch.zeros(0, 80).requires_grad_(true);
        var y = torch.zeros(0, 80);
        var sum = AslFunctional.asymmetric_loss(x, y, backend: backend);
        Assert.That(sum.item<float>(), Is.EqualTo(0));
        sum.backward();
        Assert.That(x.grad!.shape, Is.EqualTo(new long[] { 0, 80 }));
        Assert.That(AslFunctional.asymmetric_loss(x, y, reduction: Reduction.Mean, backend: backend).item<float>(), Is.NaN);
        Assert.That(AslFunctional.asymmetric_loss(x, y, reduction: Reduction.None, backend: backend).shape, Is.EqualTo(new long[] { 0, 80 }));
    }

    [Test]
    public void BadInputsAreRejectedWithMessagesNamingBothSides()
    {
        var x = torch.zeros(4, 5);
        Assert.That(() => AslFunctional.asymmetric_loss(x, torch.zeros(4, 6)),
            Throws.ArgumentException.With.Message.Contains("[4, 5]").And.Message.Contains("[4, 6]"));
        Assert.That(() => AslFunctional.asymmetric_loss(torch.zeros(4, 5, ScalarType.Int64), torch.zeros(4, 5)),
            Throws.ArgumentException.With.Message.Contains("Int64"));
        Assert.That(() => AslFunctional.asymmetric_loss(x, torch.zeros(4, 5, ScalarType.Int64)),
            Throws.ArgumentException.With.Message.Contains("Int64"));
        Assert.That(() => AslFunctional.asymmetric_loss(x, torch.zeros(4, 5, device: torch.META)),
            Throws.ArgumentException.With.Message.Contains("cpu").And.Message.Contains("meta"));
        Assert.That(() => AslFunctional.asymmetric_loss(x, torch.full(4, 5, 2f)),
            Throws.ArgumentException.With.Message.Contains("[0, 1]"));
        Assert.That(() => AslFunctional.asymmetric_loss(x, torch.zeros(4, 5), gammaNeg: -1),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("GammaNeg"));
        Assert.That(() => new AsymmetricLoss(clip: 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("clip"));
        Assert.That(() => new AsymmetricLoss(eps: 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("eps"));
        Assert.That(() => new AsymmetricLoss(backend: (AslBackend)9), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ModuleTracksStatisticsOnBothBackendsAndTakesNewGammaNeg()
    {
        var random = TestData.NewRandom();
        var (x, y) = Batch(random, 64, 80, ScalarType.Float32, soft: false);
        using var fused = new AsymmetricLoss(backend: AslBackend.Fused) { TrackStatistics = true };
        using var composed = new AsymmetricLoss(backend: AslBackend.Composed) { TrackStatistics = true };
        fused.forward(x, y);
        composed.forward(x, y);
        var a = fused.LastStatistics!.Value;
        var b = composed.LastStatistics!.Value;
        Assert.That(a.MeanPPositive, Is.EqualTo(b.MeanPPositive).Within(1e-5));
        Assert.That(a.MeanPNegative, Is.EqualTo(b.MeanPNegative).Within(1e-5));
        Assert.That(a.CountPositive, Is.EqualTo(y.sum().item<float>()));

        float before = fused.forward(x, y).item<float>();
        fused.GammaNeg = 1;
        Assert.That(fused.forward(x, y).item<float>(), Is.Not.EqualTo(before));
        Assert.That(() => fused.GammaNeg = -3, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(fused.GammaNeg, Is.EqualTo(1), "a rejected value leaves the options as they were");
    }
}
