using AslCuda.Reference;
using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Tests.TorchSharp;

/// <summary>AslCuda's extensions through the module: Composed (docs/extensions.md in TorchSharp ops) against the float64 oracle through backward().</summary>
public class ExtensionTermsTests
{
    private static IEnumerable<AslOptions> ExtensionOptionSets(int classes)
    {
        var weight = Enumerable.Range(0, classes).Select(c => 0.25f + c % 4).ToArray();
        var posWeight = Enumerable.Range(0, classes).Select(c => 3f - c % 3).ToArray();
        yield return TestOptions.FullGradientBatchMean;
        yield return TestOptions.FullGradientBatchMean with { Smoothing = 0.1, ClassWeight = weight };
        yield return TestOptions.FullGradientBatchMean with { PosWeight = new[] { 2f }, Reduction = AslReduction.Sum, DetachFocalWeight = true };
        yield return new AslOptions { GammaNeg = 2.5, GammaPos = 0.5, Clip = 0, Smoothing = 0.3, PosWeight = posWeight, ClassWeight = weight, Reduction = AslReduction.None };
        yield return new AslOptions { GammaNeg = 0, GammaPos = 0, PosWeight = posWeight, Reduction = AslReduction.Mean };
    }

    [Test]
    public void ComposedMatchesTheOracleForExtensions([Values] bool softTargets)
    {
        var random = TestData.NewRandom();
        const int n = 9, c = 13;
        foreach (var options in ExtensionOptionSets(c))
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
        foreach (var options in ExtensionOptionSets(c).Concat(ExtensionOptionSets(c).Select(o => o with { DetachFocalWeight = !o.DetachFocalWeight })))
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
            Assert.That(autoLoss, Is.EqualTo(loss), "Auto runs AslCuda's extensions fused on the CPU " + what);
        }
    }

    [Test]
    public void TargetGradientAndDoubleBackwardWithExtensionsMatchComposed()
    {
        // The fused function's backward leaves these to the Composed formula, which must carry every term.
        var random = TestData.NewRandom();
        const int n = 5, c = 11;
        var options = TestOptions.FullGradientBatchMean with
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
        module.Options = TestOptions.FullGradientBatchMean;
        Assert.That(() => module.forward(torch.zeros(6), torch.zeros(6)), Throws.ArgumentException.With.Message.Contains("[N, C]").And.Message.Contains("[6]"));
    }

    [Test]
    public void WithExtensionsFactoryAndFunctionalTakeTheExtensionArguments()
    {
        var random = TestData.NewRandom();
        const int n = 5, c = 4;
        var x = torch.tensor(TestData.Logits(random, n * c), [n, c]);
        var y = torch.tensor(TestData.SoftTargets(random, n * c), [n, c]);
        var weight = torch.tensor(new[] { 1.0, 0.5, 2.0, 0.0 });
        var module = AsymmetricLoss.WithExtensions(disableTorchGradFocalLoss: false, reduction: AslReduction.BatchMean,
            smoothing: 0.1, weight: weight, posWeight: torch.tensor(3.0));
        Assert.That(module.Options, Is.EqualTo(TestOptions.FullGradientBatchMean with { Smoothing = 0.1, ClassWeight = new[] { 1f, 0.5f, 2f, 0f }, PosWeight = new[] { 3f } }));
        Assert.That(module.Options, Is.Not.EqualTo(TestOptions.FullGradientBatchMean with { Smoothing = 0.1, ClassWeight = new[] { 1f, 0.5f, 2f, 1f }, PosWeight = new[] { 3f } }));
        Assert.That(module.Options.ClassWeight.ToArray(), Is.EqualTo(new[] { 1f, 0.5f, 2f, 0f }));
        Assert.That(module.Options.PosWeight.ToArray(), Is.EqualTo(new[] { 3f }));
        // The other defaults are the paper code's.
        Assert.That(AsymmetricLoss.WithExtensions().Options, Is.EqualTo(new AslOptions()));

        var options = module.Options;
        double expected = MultiLabelReference.Loss(x.data<double>().ToArray(), y.data<double>().ToArray(), options, classes: c)[0];
        // Auto runs the fused pass, whose math is float32: 1e-5 relative.
        Assert.That(module.forward(x, y).item<double>(), Is.EqualTo(expected).Within(1e-3).Percent);
        var functional = AslFunctional.asymmetric_loss_with_extensions(x, y, disableTorchGradFocalLoss: false,
            reduction: AslReduction.BatchMean, smoothing: 0.1, weight: weight, posWeight: torch.tensor(3.0));
        Assert.That(functional.item<double>(), Is.EqualTo(expected).Within(1e-3).Percent);
    }

    /// <summary>
    /// Our pos_weight and class weight mean what PyTorch's BCEWithLogitsLoss means by pos_weight and a [C] weight: with no
    /// focusing, no clip and binary targets the two losses are the same function. libtorch computes the other side.
    /// </summary>
    [TestCase(AslBackend.Fused)]
    [TestCase(AslBackend.Composed)]
    public void PosWeightAndClassWeightMeanWhatBceWithLogitsMeans(AslBackend backend)
    {
        var random = TestData.NewRandom();
        const int n = 6, c = 5;
        // Logits in [-12, 12]: BCEWithLogitsLoss has no eps, so the eps clamp must never bind (it would at +-100).
        var x = torch.tensor(Enumerable.Range(0, n * c).Select(_ => random.NextDouble() * 24 - 12).ToArray(), [n, c], ScalarType.Float64);
        var y = torch.tensor(TestData.BinaryTargets(random, n * c, positiveRate: 0.5), [n, c], ScalarType.Float64);
        var weight = torch.tensor(new[] { 1.0, 0.5, 2.0, 0.0, 3.0 }, ScalarType.Float64);
        var posWeight = torch.tensor(new[] { 2.0, 1.0, 0.25, 4.0, 1.5 }, ScalarType.Float64);
        var bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, weight, reduction: nn.Reduction.Sum, pos_weights: posWeight);
        // eps at float's smallest normal, the least the fused passes take.
        var ours = AslFunctional.asymmetric_loss_with_extensions(x, y, gammaNeg: 0, gammaPos: 0, clip: 0, eps: AslOptions.MinEps,
            weight: weight, posWeight: posWeight, backend: backend);
        // Fused computes in float32: 1e-5 relative.
        Assert.That(ours.item<double>(), Is.EqualTo(bce.item<double>()).Within(1e-5 * bce.item<double>()));
    }

    [Test]
    public void TimmFactoryAndFunctionalAreTimmsAsymmetricLossMultiLabel()
    {
        // timm's whole signature: (gamma_neg=4, gamma_pos=1, clip=0.05, eps=1e-8, disable_torch_grad_focal_loss=False), the sum.
        var expected = new AslOptions { DetachFocalWeight = false, Reduction = AslReduction.Sum };
        Assert.That(AsymmetricLoss.Timm().Options, Is.EqualTo(expected));
        Assert.That(AsymmetricLoss.Optimized().Options, Is.EqualTo(expected));
        Assert.That(AsymmetricLoss.Timm(2, 0, 0.1, 1e-6, true).Options,
            Is.EqualTo(new AslOptions { GammaNeg = 2, GammaPos = 0, Clip = 0.1, Eps = 1e-6, DetachFocalWeight = true }));
        string[] timmArguments = ["gammaNeg", "gammaPos", "clip", "eps", "disableTorchGradFocalLoss", "backend"];
        Assert.That(typeof(AsymmetricLoss).GetMethod(nameof(AsymmetricLoss.Timm))!.GetParameters().Select(p => p.Name), Is.EqualTo(timmArguments));
        Assert.That(typeof(AslFunctional).GetMethod(nameof(AslFunctional.asymmetric_loss_multi_label))!.GetParameters().Select(p => p.Name),
            Is.EqualTo(new[] { "input", "target" }.Concat(timmArguments)));

        var random = TestData.NewRandom();
        var x = torch.tensor(TestData.Logits(random, 12), [3, 4]);
        var y = torch.tensor(TestData.SoftTargets(random, 12), [3, 4]);
        // The float64 oracle of the sum, on the float64 inputs (the fused pass computes in float32: 1e-5 relative).
        double sum = MultiLabelReference.Loss(x.data<double>().ToArray(), y.data<double>().ToArray(), expected)[0];
        Assert.That(AslFunctional.asymmetric_loss_multi_label(x, y).item<double>(), Is.EqualTo(sum).Within(1e-5 * Math.Abs(sum)));
    }

    [Test]
    public void TimmSingleLabelFactoryHasTimmsDefaultsAndNoSum()
    {
        Assert.That(AsymmetricLossSingleLabel.Timm().Options,
            Is.EqualTo(new SingleLabelOptions { GammaPos = 1, GammaNeg = 4, Eps = 0.1, Reduction = AslReduction.Mean }));
        Assert.That(AsymmetricLossSingleLabel.Timm(reduction: nn.Reduction.None).Options.Reduction, Is.EqualTo(AslReduction.None));
        Assert.That(() => AsymmetricLossSingleLabel.Timm(reduction: nn.Reduction.Sum),
            Throws.ArgumentException.With.Message.Contains("has no sum").And.Property("ParamName").EqualTo("reduction"));
    }

    [Test]
    public void BadExtensionTensorsAreRejectedWithTheirNameAndValue()
    {
        Assert.That(() => AsymmetricLoss.WithExtensions(weight: torch.tensor(new[] { 1.0, -2.0 })),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("weight[1] is -2"));
        Assert.That(() => AsymmetricLoss.WithExtensions(posWeight: torch.tensor(new[] { double.NaN })),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("posWeight[0] is NaN"));
        Assert.That(() => AsymmetricLoss.WithExtensions(weight: torch.ones(2, 3)),
            Throws.ArgumentException.With.Message.Contains("weight must be a [C] vector").And.Message.Contains("[2, 3]"));
        Assert.That(() => AsymmetricLoss.WithExtensions(weight: torch.tensor(2.0)), Throws.ArgumentException.With.Message.Contains("weight must be a [C] vector"));
        Assert.That(() => AsymmetricLoss.WithExtensions(weight: torch.ones(3, ScalarType.Int64)), Throws.ArgumentException.With.Message.Contains("Int64"));
        Assert.That(() => AsymmetricLoss.WithExtensions(smoothing: 1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("smoothing"));
        Assert.That(() => AsymmetricLoss.WithExtensions(weight: torch.ones(3, device: torch.META)),
            Throws.ArgumentException.With.Message.Contains("weight is on meta, which holds no values").And.Property("ParamName").EqualTo("weight"));
        Assert.That(() => AslFunctional.asymmetric_loss_with_extensions(torch.zeros(2, 3), torch.zeros(2, 3), posWeight: torch.ones(3, device: torch.META)),
            Throws.ArgumentException.With.Message.Contains("posWeight is on meta").And.Property("ParamName").EqualTo("posWeight"));
    }
}
