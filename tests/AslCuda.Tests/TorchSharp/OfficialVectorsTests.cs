using AslCuda.Tests.Support;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Tests.TorchSharp;

/// <summary>
/// Every row of the official vectors (Data/official-asl-vectors.json: what the paper code's and timm's classes computed
/// in float64 with PyTorch 1.13) through the README's drop-in call on each CPU backend: the loss and d(sum of the
/// loss)/d logits, with float64 tensors. Composed computes in float64 (agreement to 1e-12); Fused in float32 (1e-5 of
/// the largest value, from float32's 6e-8 rounding of each of a few dozen operations). The GPU twin is
/// Gpu/OfficialVectorsGpuTests.
/// </summary>
public class OfficialVectorsTests
{
    private static IEnumerable<TestCaseData> Rows() =>
        from c in OfficialVectors.Cases
        from backend in new[] { AslBackend.Fused, AslBackend.Composed }
        select new TestCaseData(c, backend).SetArgDisplayNames(c.Name, backend.ToString());

    [Test]
    public void EveryRowIsHere() => Assert.That(OfficialVectors.Cases, Has.Count.EqualTo(OfficialVectors.CaseCount));

    [TestCaseSource(nameof(Rows))]
    public void DropInReproducesTheOfficialClass(OfficialCase c, AslBackend backend)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(c.Logits, [c.Rows, c.Classes], ScalarType.Float64).requires_grad_(true);
        Tensor loss;
        if (c.IsSingleLabel)
        {
            using var module = OfficialVectors.SingleLabelDropIn(c, backend);
            loss = module.forward(x, torch.tensor(c.ClassIndices));
        }
        else
        {
            using var module = OfficialVectors.MultiLabelDropIn(c, backend);
            loss = module.forward(x, torch.tensor(c.Targets, [c.Rows, c.Classes], ScalarType.Float64));
        }
        loss.sum().backward();

        double tolerance = backend == AslBackend.Composed ? 1e-12 : 1e-5;
        Assert.That(loss.shape, Is.EqualTo(c.Loss.Length == 1 && loss.dim() == 0 ? Array.Empty<long>() : new long[] { c.Loss.Length }), "loss shape");
        AssertClose(loss.data<double>().ToArray(), c.Loss, tolerance, "loss");
        AssertClose(x.grad!.data<double>().ToArray(), c.Gradient, tolerance, "d loss / d logits");
    }

    /// <summary>|ours - official| within <paramref name="tolerance"/> of the largest official value (and of 1).</summary>
    internal static void AssertClose(double[] ours, double[] official, double tolerance, string what)
    {
        Assert.That(ours, Has.Length.EqualTo(official.Length), what);
        double scale = Math.Max(1, official.Max(Math.Abs));
        for (int i = 0; i < official.Length; i++)
            Assert.That(ours[i], Is.EqualTo(official[i]).Within(tolerance * scale), $"{what}[{i}]");
    }
}
