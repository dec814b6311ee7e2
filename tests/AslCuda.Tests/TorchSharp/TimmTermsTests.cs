using AslCuda.Reference;
using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Tests.TorchSharp;

/// <summary>timm's terms through the module: Composed (timm's formula) against the float64 oracle through backward().</summary>
public class TimmTermsTests
{
    private static IEnumerable<AslOptions> TimmOptionSets(int classes)
    {
        var weight = Enumerable.Range(0, classes).Select(c => 0.25f + c % 4).ToArray();
        var posWeight = Enumerable.Range(0, classes).Select(c => 3f - c % 3).ToArray();
        yield return AslOptions.TimmDefaults;
        yield return AslOptions.TimmDefaults with { Smoothing = 0.1, ClassWeight = weight };
        yield return AslOptions.TimmDefaults with { PosWeight = new[] { 2f }, Reduction = AslReduction.Sum, DetachFocalWeight = true };
        yield return new AslOptions { GammaNeg = 2.5, GammaPos = 0.5, Clip = 0, Smoothing = 0.3, PosWeight = posWeight, ClassWeight = weight, Reduction = AslReduction.None };
        yield return new AslOptions { GammaNeg = 0, GammaPos = 0, PosWeight = posWeight, Reduction = AslReduction.Mean };
    }

    [Test]
    public void ComposedMatchesTheOracleForTimmsTerms([Values] bool softTargets)
    {
        var random = TestData.NewRandom();
        const int n = 9, c = 13;
        foreach (var options in TimmOptionSets(c))
        {
            var xs = TestData.Logits(random, n * c);
            var ys = softTargets ? TestData.SoftTargets(random, xs.Length) : TestData.BinaryTargets(random, xs.Length);
            using var scope = torch.NewDisposeScope();
            var x = torch.tensor(xs, [n, c]).requires_grad_(true);
            var module = new AsymmetricLoss(backend: AslBackend.Composed) { Options = options };
            var loss = module.forward(x, torch.tensor(ys, [n, c]));
            var upstream = torch.rand(n, c, ScalarType.Float64);
            if (options.Reduction == AslReduction.None) loss.backward([upstream]); else loss.backward();

            var refLoss = MultiLabelReference.Loss(xs, ys, options, classes: c);
            var refGradient = MultiLabelReference.Gradient(xs, ys, options, classes: c);
            if (options.Reduction == AslReduction.None)
            {
                var u = upstream.data<double>().ToArray();
                for (int i = 0; i < refGradient.Length; i++) refGradient[i] *= u[i];
            }
            Assert.That(TestData.RelativeError(loss.data<double>().ToArray(), refLoss, 1e-300), Is.LessThanOrEqualTo(1e-9), "loss " + options);
            Assert.That(TestData.RelativeError(x.grad!.data<double>().ToArray(), refGradient, 1e-300), Is.LessThanOrEqualTo(1e-9), "gradient " + options);
        }
    }

    /// <summary>Loss and d loss / dx through backward() (a random upstream gradient for reduction none).</summary>
    private static (double[] Loss, double[] Gradient) LossAndGradient(Tensor x, Tensor y, Tensor upstream, AslOptions options, AslBackend backend)
    {
        using var scope = torch.NewDisposeScope();
        var leaf = x.detach().requires_grad_(true);
        var loss = new AsymmetricLoss(backend: backend) { Options = options }.forward(leaf, y);
        Assert.That(loss.dtype, Is.EqualTo(x.dtype), "loss comes back in the input's dtype");
        if (options.Reduction == AslReduction.None) loss.backward([upstream.to_type(x.dtype)]); else loss.backward();
        Assert.That(leaf.grad!.dtype, Is.EqualTo(x.dtype), "gradient comes back in the input's dtype");
        return (loss.to_type(ScalarType.Float64).data<double>().ToArray(), leaf.grad!.to_type(ScalarType.Float64).data<double>().ToArray());
    }

    [Test]
    public void FusedMatchesComposedThroughBackwardForEveryDtype(
        [Values(ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16)] ScalarType dtype,
        [Values] bool softTargets)
    {
        var random = TestData.NewRandom();
        double tolerance = dtype is ScalarType.Float16 or ScalarType.BFloat16 ? 1e-2 : 1e-5;
        const int n = 37, c = 81;
        foreach (var options in TimmOptionSets(c).Concat(TimmOptionSets(c).Select(o => o with { DetachFocalWeight = !o.DetachFocalWeight })))
        {
            var xs = TestData.Logits(random, n * c);
            var ys = softTargets ? TestData.SoftTargets(random, xs.Length) : TestData.BinaryTargets(random, xs.Length);
            var x = torch.tensor(xs, [n, c]).to_type(dtype);
            var y = torch.tensor(ys, [n, c]).to_type(ScalarType.Float32);
            var upstream = torch.rand(n, c, ScalarType.Float64);
            // Composed in float64 on the same (rounded) inputs is the independent oracle.
            var (refLoss, refGradient) = LossAndGradient(x.to_type(ScalarType.Float64), y, upstream, options, AslBackend.Composed);
            var (loss, gradient) = LossAndGradient(x, y, upstream, options, AslBackend.Fused);
            var (autoLoss, _) = LossAndGradient(x, y, upstream, options, AslBackend.Auto);
            string what = $"{dtype} {options}";
            Assert.That(TestData.RelativeError(loss, refLoss, 1e-35), Is.LessThanOrEqualTo(tolerance), "loss " + what);
            Assert.That(TestData.RelativeError(gradient, refGradient, 1e-35), Is.LessThanOrEqualTo(tolerance), "gradient " + what);
            Assert.That(autoLoss, Is.EqualTo(loss), "Auto runs timm's terms fused on the CPU " + what);
        }
    }

    [Test]
    public void TargetGradientAndDoubleBackwardWithTimmsTermsMatchComposed()
    {
        // The fused function's backward leaves these to the Composed formula, which must carry every term.
        var random = TestData.NewRandom();
        const int n = 5, c = 11;
        var options = AslOptions.TimmDefaults with
        {
            Smoothing = 0.1, PosWeight = Enumerable.Range(0, c).Select(i => 1f + i % 3).ToArray(),
            ClassWeight = Enumerable.Range(0, c).Select(i => 0.5f + i % 2).ToArray(),
        };
        var x0 = torch.tensor(TestData.Logits(random, n * c), [n, c]);
        var y0 = torch.tensor(TestData.SoftTargets(random, n * c), [n, c]);
        (double[] X, double[] Y, double[] Penalty) Gradients(AslBackend backend)
        {
            var module = new AsymmetricLoss(backend: backend) { Options = options };
            var x = x0.detach().clone().requires_grad_(true);
            var y = y0.detach().clone().requires_grad_(true);
            module.forward(x, y).backward();
            var x2 = x0.detach().clone().requires_grad_(true);
            var loss = module.forward(x2, y0);
            var first = torch.autograd.grad([loss], [x2], retain_graph: true, create_graph: true)[0];
            var penalty = torch.autograd.grad([loss + (first * first).sum()], [x2])[0];
            return (x.grad!.data<double>().ToArray(), y.grad!.data<double>().ToArray(), penalty.data<double>().ToArray());
        }
        var expected = Gradients(AslBackend.Composed);
        var actual = Gradients(AslBackend.Fused);
        Assert.That(TestData.RelativeError(actual.X, expected.X), Is.LessThanOrEqualTo(1e-5), "d loss / d input");
        Assert.That(TestData.RelativeError(actual.Y, expected.Y), Is.LessThanOrEqualTo(1e-5), "d loss / d target");
        Assert.That(TestData.RelativeError(actual.Penalty, expected.Penalty), Is.LessThanOrEqualTo(1e-5), "gradient penalty");
    }

    [Test]
    public void ClassVectorsMustFitTheInput()
    {
        var x = torch.zeros(4, 6);
        var y = torch.zeros(4, 6);
        var module = new AsymmetricLoss { Options = new AslOptions { ClassWeight = new[] { 1f, 2f, 3f } } };
        Assert.That(() => module.forward(x, y), Throws.ArgumentException.With.Message.Contains("ClassWeight has 3 values").And.Message.Contains("6 classes"));
        module.Options = AslOptions.TimmDefaults;
        Assert.That(() => module.forward(torch.zeros(6), torch.zeros(6)), Throws.ArgumentException.With.Message.Contains("[N, C]").And.Message.Contains("[6]"));
    }

    [Test]
    public void TimmFactoryAndFunctionalTakeTimmsArguments()
    {
        var random = TestData.NewRandom();
        const int n = 5, c = 4;
        var x = torch.tensor(TestData.Logits(random, n * c), [n, c]);
        var y = torch.tensor(TestData.SoftTargets(random, n * c), [n, c]);
        var weight = torch.tensor(new[] { 1.0, 0.5, 2.0, 0.0 });
        var module = AsymmetricLoss.Timm(smoothing: 0.1, weight: weight, posWeight: torch.tensor(3.0));
        Assert.That(module.Options, Is.EqualTo(AslOptions.TimmDefaults with { Smoothing = 0.1, ClassWeight = new[] { 1f, 0.5f, 2f, 0f }, PosWeight = new[] { 3f } }));
        Assert.That(module.Options, Is.Not.EqualTo(AslOptions.TimmDefaults with { Smoothing = 0.1, ClassWeight = new[] { 1f, 0.5f, 2f, 1f }, PosWeight = new[] { 3f } }));
        Assert.That(module.Options.ClassWeight.ToArray(), Is.EqualTo(new[] { 1f, 0.5f, 2f, 0f }));
        Assert.That(module.Options.PosWeight.ToArray(), Is.EqualTo(new[] { 3f }));

        var options = module.Options;
        double expected = MultiLabelReference.Loss(x.data<double>().ToArray(), y.data<double>().ToArray(), options, classes: c)[0];
        // Auto runs the fused pass, whose math is float32: 1e-5 relative.
        Assert.That(module.forward(x, y).item<double>(), Is.EqualTo(expected).Within(1e-3).Percent);
        var functional = AslFunctional.asymmetric_loss_multi_label(x, y, smoothing: 0.1, weight: weight, posWeight: torch.tensor(3.0));
        Assert.That(functional.item<double>(), Is.EqualTo(expected).Within(1e-3).Percent);
    }

    [Test]
    public void BadTimmTensorsAreRejectedWithTheirNameAndValue()
    {
        Assert.That(() => AsymmetricLoss.Timm(weight: torch.tensor(new[] { 1.0, -2.0 })),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("weight[1] is -2"));
        Assert.That(() => AsymmetricLoss.Timm(posWeight: torch.tensor(new[] { double.NaN })),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("posWeight[0] is NaN"));
        Assert.That(() => AsymmetricLoss.Timm(weight: torch.ones(2, 3)),
            Throws.ArgumentException.With.Message.Contains("weight must be a [C] vector").And.Message.Contains("[2, 3]"));
        Assert.That(() => AsymmetricLoss.Timm(weight: torch.tensor(2.0)), Throws.ArgumentException.With.Message.Contains("weight must be a [C] vector"));
        Assert.That(() => AsymmetricLoss.Timm(weight: torch.ones(3, ScalarType.Int64)), Throws.ArgumentException.With.Message.Contains("Int64"));
        Assert.That(() => AsymmetricLoss.Timm(smoothing: 1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("smoothing"));
        Assert.That(() => AsymmetricLoss.Timm(weight: torch.ones(3, device: torch.META)),
            Throws.ArgumentException.With.Message.Contains("weight is on meta, which holds no values").And.Property("ParamName").EqualTo("weight"));
        Assert.That(() => AslFunctional.asymmetric_loss_multi_label(torch.zeros(2, 3), torch.zeros(2, 3), posWeight: torch.ones(3, device: torch.META)),
            Throws.ArgumentException.With.Message.Contains("posWeight is on meta").And.Property("ParamName").EqualTo("posWeight"));
    }
}
