using AslCuda.Gpu;
using AslCuda.Tests.Support;
using AslCuda.Tests.TorchSharp;
using AslCuda.TorchSharp;

namespace AslCuda.Tests.Gpu;

/// <summary>
/// The official vectors (see <see cref="OfficialVectorsTests"/>) through the CUDA kernels, with the options of the
/// README's drop-in call: float64 logits, float32 soft/binary targets or int64 class indices, every output poisoned
/// first. The kernels compute in float32: 1e-5 of the largest value. CI runs them on the emulated device.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category(GpuDeviceCategory.Name)]
public class OfficialVectorsGpuTests
{
    [OneTimeSetUp]
    public void RequireDevice()
    {
        if (!CudaDevice.IsAvailable) Assert.Ignore("no CUDA device: " + CudaDevice.Describe());
    }

    private static IEnumerable<TestCaseData> Rows() =>
        OfficialVectors.Cases.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [Test]
    public void EveryRowIsHere() => Assert.That(Rows().Count(), Is.EqualTo(OfficialVectors.CaseCount));

    [TestCaseSource(nameof(Rows))]
    public void DropInOptionsReproduceTheOfficialClass(OfficialCase c)
    {
        var gradient = Enumerable.Repeat(double.NaN, c.Logits.Length).ToArray();
        double[] loss;
        if (c.IsSingleLabel)
        {
            using var module = OfficialVectors.SingleLabelDropIn(c, AslBackend.Fused);
            var rowLoss = Enumerable.Repeat(double.NaN, c.Rows).ToArray();
            float total = SingleLabelGpu.Compute<double, long>(c.Logits, c.ClassIndices, c.Classes, module.Options, gradient, rowLoss);
            loss = module.Options.Reduction == AslReduction.None ? rowLoss : [total];
        }
        else
        {
            using var module = OfficialVectors.MultiLabelDropIn(c, AslBackend.Fused);
            var targets = c.Targets.Select(t => (float)t).ToArray();
            loss = [MultiLabelGpu.Compute<double, float>(c.Logits, targets, module.Options, gradient, [], classes: c.Classes)];
        }
        OfficialVectorsTests.AssertClose(loss, c.Loss, 1e-5, "loss");
        OfficialVectorsTests.AssertClose(gradient, c.Gradient, 1e-5, "d loss / d logits");
    }
}
