using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.Tests.TorchSharp;

/// <summary>The single-label module and functional form: fused against composed through autograd, and the checks.</summary>
public class SingleLabelTorchSharpTests
{
    /// <summary>Gammas in (0, 1) have their own test: the paper formula's gradient is NaN where P rounds to 0 or 1.</summary>
    private static readonly (double GammaPos, double GammaNeg, double Eps)[] Parameters =
        [(0, 4, 0.1), (1, 2, 0), (1.5, 2.5, 0.2), (3, 1, 0.1)];

    /// <summary>Loss and d loss / d input (upstream: random per-row weights for none, else one) of one backend.</summary>
    private static (double[] Loss, double[] Gradient) LossAndGradient(Tensor logits, Tensor target, AslBackend backend,
        (double GammaPos, double GammaNeg, double Eps) p, Reduction reduction, Tensor? rowWeights = null)
    {
        using var scope = torch.NewDisposeScope();
        var x = logits.detach().clone().requires_grad_(true);
        var loss = new AsymmetricLossSingleLabel(p.GammaPos, p.GammaNeg, p.Eps, reduction, backend).forward(x, target);
        Assert.That(loss.dtype, Is.EqualTo(logits.dtype));
        (reduction == Reduction.None ? (loss * rowWeights!.to_type(loss.dtype)).sum() : loss).backward();
        return (Values(loss), Values(x.grad!));
    }

    private static double[] Values(Tensor t) => t.detach().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static (Tensor Logits, Tensor Target, Tensor RowWeights) Problem(Random random, int rows, int classes, ScalarType dtype)
    {
        var logits = torch.tensor(TestData.Logits(random, rows * classes), [rows, classes]).to_type(dtype);
        var target = torch.tensor(SingleLabelTestData.Targets(random, rows, classes));
        var rowWeights = torch.tensor(Enumerable.Range(0, rows).Select(_ => random.NextDouble() * 2 - 0.5).ToArray());
        return (logits, target, rowWeights);
    }

    [Test]
    public void FusedMatchesComposedThroughBackward(
        [Values(Reduction.Mean, Reduction.Sum, Reduction.None)] Reduction reduction,
        [Values(ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16)] ScalarType dtype)
    {
        var random = TestData.NewRandom();
        foreach (var p in Parameters)
        {
            var (logits, target, rowWeights) = Problem(random, 67, 101, dtype);
            var fused = LossAndGradient(logits, target, AslBackend.Fused, p, reduction, rowWeights);
            var composed = LossAndGradient(logits, target, AslBackend.Composed, p, reduction, rowWeights);
            // The same stored logits through the paper formula in float64: the fused result may differ from it only by
            // its float32 math and the rounding of its outputs to the dtype.
            var exact = LossAndGradient(logits.to_type(ScalarType.Float64), target, AslBackend.Composed, p, reduction, rowWeights);
            var (sameDtype, toExact) = dtype switch
            {
                ScalarType.Float16 => (5e-3, 1e-3),
                ScalarType.BFloat16 => (3e-2, 8e-3),
                _ => (1e-5, 1e-5),
            };
            string what = $"{dtype} {p}";
            Assert.Multiple(() =>
            {
                SingleLabelTestData.AssertClose(fused.Loss, composed.Loss, sameDtype, $"loss vs composed {what}");
                SingleLabelTestData.AssertClose(fused.Gradient, composed.Gradient, sameDtype, $"gradient vs composed {what}");
                SingleLabelTestData.AssertClose(fused.Loss, exact.Loss, toExact, $"loss vs float64 composed {what}");
                SingleLabelTestData.AssertClose(fused.Gradient, exact.Gradient, toExact, $"gradient vs float64 composed {what}");
            });
        }
    }

    [Test]
    public void WithoutFocusingOrSmoothingItIsCrossEntropy(
        [Values(Reduction.Mean, Reduction.Sum, Reduction.None)] Reduction reduction,
        [Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        var random = TestData.NewRandom();
        var (logits, target, rowWeights) = Problem(random, 45, 33, ScalarType.Float64);
        var asl = LossAndGradient(logits, target, backend, (0, 0, 0), reduction, rowWeights);

        var x = logits.detach().clone().requires_grad_(true);
        var crossEntropy = functional.cross_entropy(x, target, reduction: reduction);
        (reduction == Reduction.None ? (crossEntropy * rowWeights).sum() : crossEntropy).backward();
        // Fused runs float32 math on the float64 logits; composed is float64 throughout.
        double tolerance = backend == AslBackend.Fused ? 1e-6 : 1e-12;
        Assert.Multiple(() =>
        {
            SingleLabelTestData.AssertClose(asl.Loss, Values(crossEntropy), tolerance, "loss");
            SingleLabelTestData.AssertClose(asl.Gradient, Values(x.grad!), tolerance, "gradient");
        });
    }

    [Test]
    public void GammasBelowOneStayFiniteWhereTheFloat32PaperFormulaIsNaN()
    {
        // 1 - P_t = 2e^-20 rounds to 0 in float32 1 - softmax, where the gradient of (1 - P_t)^0.5 is infinite; the
        // paper's base for the other classes, 1 - (1 - P_c), is 0 there too, where the gradient of P_c^0.5 is infinite.
        var logits = torch.tensor(new float[] { 20, 0, 0 }, [1, 3]);
        var target = torch.tensor(new long[] { 0 });
        var p = (GammaPos: 0.5, GammaNeg: 0.5, Eps: 0.1);
        var fused = LossAndGradient(logits, target, AslBackend.Fused, p, Reduction.Sum);
        var composed = LossAndGradient(logits, target, AslBackend.Composed, p, Reduction.Sum);
        var exact = LossAndGradient(logits.to_type(ScalarType.Float64), target, AslBackend.Composed, p, Reduction.Sum);
        Assert.Multiple(() =>
        {
            Assert.That(composed.Gradient, Has.Some.NaN, "the paper formula in float32");
            SingleLabelTestData.AssertClose(fused.Loss, exact.Loss, 1e-5, "loss");
            SingleLabelTestData.AssertClose(fused.Gradient, exact.Gradient, 1e-5, "gradient");
        });
    }

    [Test]
    public void FusedIsBitwiseRepeatable()
    {
        var random = TestData.NewRandom();
        var (logits, target, _) = Problem(random, 256, 1000, ScalarType.Float32);
        var first = LossAndGradient(logits, target, AslBackend.Fused, (1, 4, 0.1), Reduction.Mean);
        var second = LossAndGradient(logits, target, AslBackend.Fused, (1, 4, 0.1), Reduction.Mean);
        Assert.That(second.Loss, Is.EqualTo(first.Loss).AsCollection);
        Assert.That(second.Gradient, Is.EqualTo(first.Gradient).AsCollection);
    }

    [Test]
    public void Int32TargetsAndStridedLogitsGiveTheSameResult([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        var random = TestData.NewRandom();
        var (logits, target, _) = Problem(random, 20, 30, ScalarType.Float32);
        var reference = LossAndGradient(logits, target, backend, (1, 4, 0.1), Reduction.Sum);
        var int32 = LossAndGradient(logits, target.to_type(ScalarType.Int32), backend, (1, 4, 0.1), Reduction.Sum);
        var transposed = logits.t().contiguous().t();                    // same values, column-major storage
        Assert.That(transposed.is_contiguous(), Is.False);
        var strided = LossAndGradient(transposed, target, backend, (1, 4, 0.1), Reduction.Sum);
        Assert.Multiple(() =>
        {
            Assert.That(int32.Loss, Is.EqualTo(reference.Loss).AsCollection);
            Assert.That(int32.Gradient, Is.EqualTo(reference.Gradient).AsCollection);
            if (backend == AslBackend.Fused)
            {
                // The fused path makes the logits contiguous first, so it sees the same values in the same order: bitwise.
                Assert.That(strided.Loss, Is.EqualTo(reference.Loss).AsCollection);
                Assert.That(strided.Gradient, Is.EqualTo(reference.Gradient).AsCollection);
            }
            else
            {
                // libtorch sums a column-major tensor in another order (its reduction follows the memory layout), so
                // the float32 loss of 600 terms may differ in the last bits (seen: 1 ulp of 467.68 for 2 seeds in 25).
                SingleLabelTestData.AssertClose(strided.Loss, reference.Loss, 1e-6, "strided loss");
                SingleLabelTestData.AssertClose(strided.Gradient, reference.Gradient, 1e-6, "strided gradient");
            }
        });
    }

    [Test]
    public void ModuleAndFunctionalAgreeAndUseThePaperDefaults()
    {
        var random = TestData.NewRandom();
        var (logits, target, _) = Problem(random, 10, 7, ScalarType.Float32);
        var module = new AsymmetricLossSingleLabel();
        Assert.That(module.Options, Is.EqualTo(new SingleLabelOptions()));
        Assert.That(module.Backend, Is.EqualTo(AslBackend.Auto));
        var fromModule = module.forward(logits, target).item<float>();
        var fromFunctional = AslFunctional.asymmetric_loss_single_label(logits, target).item<float>();
        var explicitOptions = AslFunctional.asymmetric_loss_single_label(logits, target, gammaPos: 0, gammaNeg: 4, eps: 0.1,
            reduction: Reduction.Mean, backend: AslBackend.Fused).item<float>();
        Assert.That(fromFunctional, Is.EqualTo(fromModule));
        Assert.That(explicitOptions, Is.EqualTo(fromModule));
    }

    private static IEnumerable<TestCaseData> BadInputs()
    {
        var x = torch.zeros(4, 5);
        var t = torch.tensor(new long[] { 0, 1, 2, 3 });
        yield return new TestCaseData(torch.zeros(4, 5, 2), t, "input must be [N, C] logits, got shape [4, 5, 2]").SetName("input rank 3");
        yield return new TestCaseData(torch.zeros(5), t, "input must be [N, C] logits, got shape [5]").SetName("input rank 1");
        yield return new TestCaseData(x, torch.zeros(4, 1, ScalarType.Int64), "target must be [N] class indices, got shape [4, 1]").SetName("target rank 2");
        yield return new TestCaseData(x, torch.tensor(new long[] { 0, 1, 2 }), "input has 4 rows (shape [4, 5]) but target has 3 (shape [3])").SetName("row count mismatch");
        yield return new TestCaseData(x, t.to_type(ScalarType.Float32), "target must be int64 or int32 class indices, got Float32").SetName("float targets");
        yield return new TestCaseData(x, t.to_type(ScalarType.Byte), "target must be int64 or int32 class indices, got Byte").SetName("byte targets");
        yield return new TestCaseData(x.to_type(ScalarType.Int32), t, "input must be float32, float64, float16 or bfloat16 logits, got Int32").SetName("integer logits");
        yield return new TestCaseData(x, torch.tensor(new long[] { 0, 1, 5, 3 }), "target[2] = 5 is not a class index in [0, 5)").SetName("target too large");
        yield return new TestCaseData(x, torch.tensor(new int[] { 0, -1, 2, 3 }), "target[1] = -1 is not a class index in [0, 5)").SetName("negative int32 target");
        yield return new TestCaseData(x, torch.empty(4, ScalarType.Int64, device: torch.META), "input is on cpu but target is on meta").SetName("device mismatch");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void BadInputsAreRejectedWithAClearMessage(Tensor input, Tensor target, string message)
    {
        foreach (var backend in new[] { AslBackend.Fused, AslBackend.Composed })
            Assert.That(() => AslFunctional.asymmetric_loss_single_label(input, target, backend: backend),
                Throws.ArgumentException.With.Message.Contains(message), backend.ToString());
    }

    [Test]
    public void InvalidParametersAreRejected()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new AsymmetricLossSingleLabel(eps: 1.5), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("label smoothing"));
            Assert.That(() => new AsymmetricLossSingleLabel(gammaNeg: -1), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("GammaNeg"));
            Assert.That(() => new AsymmetricLossSingleLabel(backend: (AslBackend)9), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("backend"));
        });
    }

    [Test]
    public void EmptyBatch([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        var target = torch.empty(0, ScalarType.Int64);
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            var x = torch.zeros(0, 5).requires_grad_(true);
            var loss = AslFunctional.asymmetric_loss_single_label(x, target, reduction: reduction, backend: backend);
            (reduction == Reduction.None ? loss.sum() : loss).backward();
            Assert.Multiple(() =>
            {
                if (reduction == Reduction.None) Assert.That(loss.shape, Is.EqualTo(new long[] { 0 }));
                else Assert.That(loss.item<float>(), reduction == Reduction.Mean ? Is.NaN : Is.Zero, "mean of no rows is NaN, as in torch");
                Assert.That(x.grad!.shape, Is.EqualTo(new long[] { 0, 5 }));
            });
        }
    }

    [Test]
    public void NoGradGivesTheSameLossWithoutAGraph([Values(AslBackend.Fused, AslBackend.Composed)] AslBackend backend)
    {
        var random = TestData.NewRandom();
        var (logits, target, _) = Problem(random, 12, 9, ScalarType.Float32);
        var x = logits.requires_grad_(true);
        float withGraph = AslFunctional.asymmetric_loss_single_label(x, target, backend: backend).item<float>();
        using (torch.no_grad())
        {
            var loss = AslFunctional.asymmetric_loss_single_label(x, target, backend: backend);
            Assert.That(loss.requires_grad, Is.False);
            Assert.That(loss.item<float>(), Is.EqualTo(withGraph));
        }
    }
}
