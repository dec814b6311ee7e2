using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.Tests.TorchSharp;

/// <summary>
/// Autograd modes beyond one loss.backward(): create_graph (double backward), a second backward with and without
/// retain_graph, targets that require grad, and the saved gradient handed back for an upstream gradient of 1.
/// Fused must agree with Composed (libtorch's autograd of the paper formula) in every mode, in float64.
/// </summary>
public class AutogradModeTests
{
    /// <summary>The fused passes compute in float32 (and read float32 targets), also for float64 tensors.</summary>
    private const double Tolerance = 1e-5;

    private static (Tensor X, Tensor Y) Batch(long n, long c, bool soft)
    {
        var random = TestData.NewRandom();
        var x = torch.tensor(TestData.Logits(random, (int)(n * c)), [n, c]);
        var y = torch.tensor(soft ? TestData.SoftTargets(random, (int)(n * c)) : TestData.BinaryTargets(random, (int)(n * c)), [n, c]);
        return (x, y);
    }

    private static Tensor MultiLabel(Tensor x, Tensor y, AslBackend backend, bool detach, Reduction reduction = Reduction.Sum) =>
        AslFunctional.asymmetric_loss(x, y, gammaNeg: 4, gammaPos: 1, clip: 0.05, disableTorchGradFocalLoss: detach, reduction: reduction, backend: backend);

    private static double[] Values(Tensor t) => t.detach().to_type(ScalarType.Float64).data<double>().ToArray();

    /// <summary>The gradient penalty: d/dx of (loss + |d loss/dx|^2), through autograd.grad with create_graph.</summary>
    private static (double[] FirstDerivative, double[] PenaltyGradient) GradientPenalty(Func<Tensor, Tensor> loss, Tensor x0)
    {
        var x = x0.detach().clone().requires_grad_(true);
        var l = loss(x);
        var g = torch.autograd.grad([l], [x], retain_graph: true, create_graph: true)[0];
        Assert.That(g.requires_grad, Is.True, "with create_graph the first derivative must carry a graph");
        var penalty = (l + (g * g).sum());
        var second = torch.autograd.grad([penalty], [x])[0];
        return (Values(g), Values(second));
    }

    [Test]
    public void DoubleBackwardThroughFusedMatchesComposed([Values] bool detach, [Values] bool soft,
        [Values(Reduction.Sum, Reduction.Mean)] Reduction reduction)
    {
        // Defect: Fused's first derivative had no graph, so the penalty's gradient was the plain first derivative
        // (29% off Composed) and autograd.grad of (g*g).sum() aborted the process.
        var (x, y) = Batch(7, 13, soft);
        var (refFirst, refSecond) = GradientPenalty(v => MultiLabel(v, y, AslBackend.Composed, detach, reduction), x);
        var (first, second) = GradientPenalty(v => MultiLabel(v, y, AslBackend.Fused, detach, reduction), x);
        Assert.That(TestData.RelativeError(first, refFirst), Is.LessThanOrEqualTo(Tolerance));
        Assert.That(TestData.RelativeError(second, refSecond), Is.LessThanOrEqualTo(Tolerance));
    }

    [Test]
    public void DoubleBackwardThroughFusedSingleLabelMatchesComposed([Values(Reduction.Sum, Reduction.Mean)] Reduction reduction)
    {
        var random = TestData.NewRandom();
        var x = torch.tensor(TestData.Logits(random, 6 * 9), [6, 9]);
        var t = torch.tensor(SingleLabelTestData.Targets(random, 6, 9));
        Tensor Loss(Tensor v, AslBackend backend) => AslFunctional.asymmetric_loss_single_label(v, t, gammaPos: 1, gammaNeg: 4, reduction: reduction, backend: backend);
        var (refFirst, refSecond) = GradientPenalty(v => Loss(v, AslBackend.Composed), x);
        var (first, second) = GradientPenalty(v => Loss(v, AslBackend.Fused), x);
        Assert.That(TestData.RelativeError(first, refFirst), Is.LessThanOrEqualTo(Tolerance));
        Assert.That(TestData.RelativeError(second, refSecond), Is.LessThanOrEqualTo(Tolerance));
    }

    [Test]
    public void SecondBackwardWithoutRetainGraphFailsLikeComposed([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend,
        [Values(Reduction.Sum, Reduction.None)] Reduction reduction)
    {
        // Defect: Fused silently added the gradient a second time.
        var (x0, y) = Batch(5, 8, soft: false);
        var x = x0.requires_grad_(true);
        var loss = MultiLabel(x, y, backend, detach: true, reduction);
        if (reduction == Reduction.None) loss = loss.sum();
        loss.backward();
        var first = Values(x.grad!);
        Assert.That(() => loss.backward(), Throws.Exception.With.Message.Contains("Trying to backward through the graph a second time"));
        Assert.That(Values(x.grad!), Is.EqualTo(first), "nothing was accumulated by the failed backward");
    }

    [Test]
    public void SecondBackwardWithoutRetainGraphFailsForSingleLabel()
    {
        var x = torch.randn(4, 6, ScalarType.Float64).requires_grad_(true);
        var loss = AslFunctional.asymmetric_loss_single_label(x, torch.tensor(new long[] { 0, 5, 2, 3 }), backend: AslBackend.Fused);
        loss.backward();
        Assert.That(() => loss.backward(), Throws.Exception.With.Message.Contains("Trying to backward through the graph a second time"));
    }

    [Test]
    public void RetainGraphBackwardsAccumulateExactlyAndSurviveInPlaceChangesOfGrad()
    {
        // The scalar-1 upstream hands back the saved gradient itself; the retained graph must still give the same
        // gradient each time, whatever the caller did to x.grad in between.
        var (x0, y) = Batch(6, 10, soft: true);
        var x = x0.requires_grad_(true);
        var loss = MultiLabel(x, y, AslBackend.Fused, detach: true);
        var reference = Values(torch.autograd.grad([MultiLabel(x, y, AslBackend.Composed, detach: true)], [x])[0]);
        loss.backward(retain_graph: true);
        Assert.That(TestData.RelativeError(Values(x.grad!), reference), Is.LessThanOrEqualTo(Tolerance));
        loss.backward(retain_graph: true);
        Assert.That(TestData.RelativeError(Values(x.grad!), reference.Select(v => 2 * v).ToArray()), Is.LessThanOrEqualTo(Tolerance));
        x.grad!.mul_(0.0);                                   // e.g. an in-place clip or zero_grad(set_to_none: false)
        loss.backward(retain_graph: true);
        Assert.That(TestData.RelativeError(Values(x.grad!), reference), Is.LessThanOrEqualTo(Tolerance));
        var viaGrad = torch.autograd.grad([loss * 3], [x], retain_graph: true)[0];   // upstream 3: scaled, not in place
        Assert.That(TestData.RelativeError(Values(viaGrad), reference.Select(v => 3 * v).ToArray()), Is.LessThanOrEqualTo(Tolerance));
        loss.backward();
        Assert.That(TestData.RelativeError(Values(x.grad!), reference.Select(v => 2 * v).ToArray()), Is.LessThanOrEqualTo(Tolerance));
    }

    [Test]
    public void TargetGradientMatchesComposed([Values] bool detach, [Values] bool inputToo,
        [Values(Reduction.Sum, Reduction.Mean, Reduction.None)] Reduction reduction)
    {
        // Defect: Fused gave a soft target no gradient, and threw when only the target required one.
        var (x0, y0) = Batch(5, 11, soft: true);
        var upstream = torch.rand(5, 11, ScalarType.Float64);
        (double[]? X, double[] Y) Gradients(AslBackend backend)
        {
            var x = x0.detach().clone().requires_grad_(inputToo);
            var y = y0.detach().clone().requires_grad_(true);
            var loss = MultiLabel(x, y, backend, detach, reduction);
            if (reduction == Reduction.None) loss.backward([upstream]); else loss.backward();
            return (inputToo ? Values(x.grad!) : null, Values(y.grad!));
        }
        var expected = Gradients(AslBackend.Composed);
        var actual = Gradients(AslBackend.Fused);
        Assert.That(TestData.RelativeError(actual.Y, expected.Y), Is.LessThanOrEqualTo(Tolerance), "d loss / d target");
        if (inputToo) Assert.That(TestData.RelativeError(actual.X!, expected.X!), Is.LessThanOrEqualTo(Tolerance), "d loss / d input");
    }

    [Test]
    public void Float16TargetThatRequiresGradGetsItsGradientInItsOwnDtype()
    {
        var (x, y0) = Batch(3, 4, soft: true);
        var y = y0.to_type(ScalarType.Float16).requires_grad_(true);
        MultiLabel(x.to_type(ScalarType.Float32), y, AslBackend.Fused, detach: true).backward();
        Assert.That(y.grad, Is.Not.Null);
        Assert.That(y.grad!.dtype, Is.EqualTo(ScalarType.Float16));
    }
}
