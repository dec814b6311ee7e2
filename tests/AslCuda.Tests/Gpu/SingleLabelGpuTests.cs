using AslCuda.Gpu;
using AslCuda.Reference;

namespace AslCuda.Tests.Gpu;

/// <summary>The single-label kernel on a real device against the float64 oracle (see <see cref="SingleLabelGpuChecks"/>).
/// Ignored, with the reason, where no CUDA device is available; CI runs them on the emulated device (tests/EmulatedDevice).</summary>
[TestFixture]
[NonParallelizable]
[Category(GpuDeviceCategory.Name)]
public class SingleLabelGpuTests
{
    [OneTimeSetUp]
    public void RequireDevice()
    {
        if (!CudaDevice.IsAvailable) Assert.Ignore("no CUDA device: " + CudaDevice.Describe());
        TestContext.Progress.WriteLine(GpuCheckKernels.Prewarm());
    }

    private static IEnumerable<SingleLabelCase> Variants() => SingleLabelGpuChecks.VariantCases();
    private static IEnumerable<SingleLabelCase> Sizes() => SingleLabelGpuChecks.SizeCases();

    [TestCaseSource(nameof(Variants))]
    public void Variant_matches_the_oracle(SingleLabelCase c) => AssertPassed(SingleLabelGpuChecks.Check(c, seed: 21));

    [TestCaseSource(nameof(Sizes))]
    public void Size_matches_the_oracle(SingleLabelCase c) => AssertPassed(SingleLabelGpuChecks.Check(c, seed: 22));

    [Test]
    public void Layout_cases_take_every_option_set_class_count_and_type()
    {
        var cases = SingleLabelGpuChecks.LayoutCases().ToList();
        var expected = SingleLabelGpuChecks.OptionSets.SelectMany(o => SingleLabelGpuChecks.ClassCounts.Select(c => (o.Name, c)));
        Assert.Multiple(() =>
        {
            Assert.That(cases.Select(c => (c.Name.Replace("-forward", ""), c.Classes)), Is.EquivalentTo(expected));
            Assert.That(cases.Select(c => c.Logit).Distinct(), Is.EquivalentTo(MultiLabelGpuChecks.LogitTypes));
            Assert.That(cases.Select(c => c.Target).Distinct(), Is.EquivalentTo(new[] { AslIndexType.Int64, AslIndexType.Int32 }));
            Assert.That(cases.Select(c => c.Gradient).Distinct(), Is.EquivalentTo(new[] { true, false }));
        });
    }

    [Test]
    public void Large_size_matches_the_oracle()
    {
        if (GpuCheckDevice.IsEmulated) Assert.Ignore(GpuCheckDevice.HardwareOnlyReason);
        AssertPassed(SingleLabelGpuChecks.Check(SingleLabelGpuChecks.LargeCase(), seed: 25));
    }

    [Test]
    public void Two_runs_give_identical_bits([Values(80, 21843)] int classes)
    {
        var c = new SingleLabelCase("determinism", AslDataType.Float32, AslIndexType.Int64, new SingleLabelOptions(), true,
            GpuCheckDevice.Size(2001, classes > 1024 ? 17 : 2001), classes);
        AssertPassed(SingleLabelGpuChecks.CheckDeterminism(c, seed: 23));
    }

    [Test]
    public void Host_api_returns_the_mean_loss_and_gradient()
    {
        var random = new Random(24);
        const int rows = 33, classes = 1000;
        float[] x = Enumerable.Range(0, rows * classes).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
        long[] t = Enumerable.Range(0, rows).Select(_ => (long)random.Next(classes)).ToArray();
        var options = new SingleLabelOptions();
        var gradient = Enumerable.Repeat(float.NaN, x.Length).ToArray();

        float loss = SingleLabelGpu.Compute<float, long>(x, t, classes, options, gradient, []);

        double[] xd = x.Select(v => (double)v).ToArray();
        Assert.That(loss, Is.EqualTo(SingleLabelReference.Loss(xd, t, classes, options)[0]).Within(1e-3).Percent);
        double[] expected = SingleLabelReference.Gradient(xd, t, classes, options);
        double error = 0, norm = 0;
        for (int i = 0; i < x.Length; i++)
        {
            error += (gradient[i] - expected[i]) * (gradient[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        Assert.That(Math.Sqrt(error / norm), Is.LessThanOrEqualTo(1e-5));
    }

    private static void AssertPassed(GpuCheckResult result) => Assert.That(result.Passed, Is.True, result.Detail);
}
