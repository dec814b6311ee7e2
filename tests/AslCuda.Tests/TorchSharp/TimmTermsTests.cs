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
            Assert.That(TestData.RelativeError(loss.data<double>().ToArray(), refLoss, 1e-300), Is.LessThanOrEqualTo(1e-9), "loss " + Describe(options));
            Assert.That(TestData.RelativeError(x.grad!.data<double>().ToArray(), refGradient, 1e-300), Is.LessThanOrEqualTo(1e-9), "gradient " + Describe(options));
        }
    }

    [Test]
    public void AutoRunsTimmsTermsComposedAndFusedRefusesThem()
    {
        var random = TestData.NewRandom();
        var x = torch.tensor(TestData.Logits(random, 4 * 6), [4, 6]).to_type(ScalarType.Float32);
        var y = torch.tensor(TestData.BinaryTargets(random, 4 * 6), [4, 6]).to_type(ScalarType.Float32);
        var options = AslOptions.TimmDefaults with { Smoothing = 0.1 };
        float auto = new AsymmetricLoss { Options = options }.forward(x, y).item<float>();
        float composed = new AsymmetricLoss(backend: AslBackend.Composed) { Options = options }.forward(x, y).item<float>();
        Assert.That(auto, Is.EqualTo(composed));
        Assert.That(() => new AsymmetricLoss(backend: AslBackend.Fused) { Options = options }.forward(x, y),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contains("smoothing"));
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

    private static string Describe(AslOptions o) =>
        $"{o} ClassWeight=[{string.Join(", ", o.ClassWeight.ToArray())}] PosWeight=[{string.Join(", ", o.PosWeight.ToArray())}]";
}
