using AslCuda.Gpu;
using AslCuda.Reference;

namespace AslCuda.Tests.Gpu;

/// <summary>The multi-label kernel on a real device against the float64 oracle (see <see cref="MultiLabelGpuChecks"/>).
/// Ignored, with the reason, where no CUDA device is available; CI runs them on the emulated device (tests/EmulatedDevice).</summary>
[TestFixture]
[NonParallelizable]
[Category(GpuDeviceCategory.Name)]
public class MultiLabelGpuTests
{
    [OneTimeSetUp]
    public void RequireDevice()
    {
        if (!CudaDevice.IsAvailable) Assert.Ignore("no CUDA device: " + CudaDevice.Describe());
        TestContext.Progress.WriteLine(GpuCheckKernels.Prewarm());
    }

    private static IEnumerable<MultiLabelCase> Variants() => MultiLabelGpuChecks.VariantCases();
    private static IEnumerable<MultiLabelCase> Sizes() => MultiLabelGpuChecks.SizeCases();
    private static IEnumerable<MultiLabelCase> ExtensionVariants() => MultiLabelGpuChecks.ExtensionCases();
    private static IEnumerable<MultiLabelCase> ExtensionSizes() => MultiLabelGpuChecks.ExtensionSizeCases();

    [TestCaseSource(nameof(Variants))]
    public void Variant_matches_the_oracle(MultiLabelCase c) => AssertPassed(MultiLabelGpuChecks.Check(c, seed: 11));

    [TestCaseSource(nameof(Sizes))]
    public void Size_matches_the_oracle(MultiLabelCase c) => AssertPassed(MultiLabelGpuChecks.Check(c, seed: 12));

    [TestCaseSource(nameof(ExtensionVariants))]
    public void Extensions_match_the_oracle(MultiLabelCase c) => AssertPassed(MultiLabelGpuChecks.Check(c, seed: 17));

    [TestCaseSource(nameof(ExtensionSizes))]
    public void Extensions_at_odd_sizes_match_the_oracle(MultiLabelCase c) => AssertPassed(MultiLabelGpuChecks.Check(c, seed: 18));

    [TestCaseSource(typeof(MultiLabelGpuChecks), nameof(MultiLabelGpuChecks.VoteCases))]
    public void Float32_targets_through_the_warp_vote_match_the_oracle(MultiLabelCase c) => AssertPassed(MultiLabelGpuChecks.Check(c, seed: 19));

    /// <summary>One block: each warp takes many rounds of the vector loop, some with soft packs and some without, and its
    /// last round is partial (lanes past the end vote false and sit it out).</summary>
    [Test]
    public void Warp_vote_in_a_striding_grid_matches_the_oracle()
    {
        MultiLabelGpu.MaxBlocks = 1;
        try
        {
            Assert.Multiple(() =>
            {
                foreach (var c in MultiLabelGpuChecks.VoteCases().Where(c => c.Logit is AslDataType.Float32 or AslDataType.BFloat16).Take(4))
                    AssertPassed(MultiLabelGpuChecks.Check(c, seed: 23));
            });
        }
        finally
        {
            MultiLabelGpu.MaxBlocks = int.MaxValue;
        }
    }

    /// <summary>A grid capped at one or two blocks, so that each thread's grid-stride loops (vector and scalar) take
    /// several steps at these small sizes and carry the class column from step to step.</summary>
    [Test]
    public void Extensions_in_a_striding_grid_match_the_oracle([Values(1, 2)] int blocks)
    {
        var cases = MultiLabelGpuChecks.ExtensionSizeCases().Where(c => c.Classes > 1 && c.Count < 10_000)
            .Append(MultiLabelGpuChecks.ExtensionCases().ElementAt(5 * 9 + 1));      // every term, per-class, float32 logits, uint8 targets
        MultiLabelGpu.MaxBlocks = blocks;
        try
        {
            Assert.Multiple(() =>
            {
                foreach (var c in cases) AssertPassed(MultiLabelGpuChecks.Check(c, seed: 20 + blocks));
            });
        }
        finally
        {
            MultiLabelGpu.MaxBlocks = int.MaxValue;
        }
    }

    [Test]
    public void Large_extension_size_matches_the_oracle()
    {
        if (GpuCheckDevice.IsEmulated) Assert.Ignore(GpuCheckDevice.HardwareOnlyReason);
        AssertPassed(MultiLabelGpuChecks.Check(MultiLabelGpuChecks.LargeExtensionCase(), seed: 19));
    }

    [Test]
    public void Large_size_matches_the_oracle()
    {
        if (GpuCheckDevice.IsEmulated) Assert.Ignore(GpuCheckDevice.HardwareOnlyReason);
        AssertPassed(MultiLabelGpuChecks.Check(MultiLabelGpuChecks.LargeCase(), seed: 16));
    }

    [Test]
    public void Two_runs_give_identical_bits([Values(AslDataType.Float32, AslDataType.BFloat16)] AslDataType logit)
    {
        var c = new MultiLabelCase("determinism", logit, AslDataType.UInt8, new AslOptions { Reduction = AslReduction.None }, true, true,
            GpuCheckDevice.Size(3_000_017, 50_021));
        AssertPassed(MultiLabelGpuChecks.CheckDeterminism(c, seed: 13));
    }

    [Test]
    public void Host_api_forward_only_returns_the_mean_loss_and_statistics()
    {
        var random = new Random(14);
        float[] x = Enumerable.Range(0, 4097).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
        byte[] y = x.Select(_ => (byte)(random.Next(4) == 0 ? 1 : 0)).ToArray();
        var options = new AslOptions { Reduction = AslReduction.Mean };

        float loss = MultiLabelGpu.Compute<float, byte>(x, y, options, [], [], out var statistics);

        double[] xd = x.Select(v => (double)v).ToArray(), yd = y.Select(v => (double)v).ToArray();
        Assert.That(loss, Is.EqualTo(MultiLabelReference.Loss(xd, yd, options)[0]).Within(1e-3).Percent);
        var expected = MultiLabelReference.Statistics(xd, yd);
        Assert.That(statistics.CountPositive, Is.EqualTo(expected.CountPositive));
        Assert.That(statistics.Gap, Is.EqualTo(expected.Gap).Within(1e-5));
    }

    [Test]
    public void Host_api_writes_gradient_and_element_losses()
    {
        var random = new Random(15);
        float[] x = Enumerable.Range(0, 1001).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
        float[] y = x.Select(_ => (float)random.NextDouble()).ToArray();
        var options = new AslOptions { Reduction = AslReduction.None, GammaPos = 0.5, DetachFocalWeight = false };
        var gradient = Enumerable.Repeat(float.NaN, x.Length).ToArray();
        var elementLoss = Enumerable.Repeat(float.NaN, x.Length).ToArray();

        float sum = MultiLabelGpu.Compute<float, float>(x, y, options, gradient, elementLoss);

        double[] xd = x.Select(v => (double)v).ToArray(), yd = y.Select(v => (double)v).ToArray();
        double[] expectedGradient = MultiLabelReference.Gradient(xd, yd, options);
        double[] expectedLoss = MultiLabelReference.Loss(xd, yd, options);
        Assert.That(RelativeError(gradient, expectedGradient), Is.LessThanOrEqualTo(1e-5));
        Assert.That(RelativeError(elementLoss, expectedLoss), Is.LessThanOrEqualTo(1e-5));
        Assert.That(sum, Is.EqualTo(expectedLoss.Sum()).Within(1e-3).Percent);
    }

    private static double RelativeError(float[] actual, double[] expected)
    {
        double error = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            error += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Math.Sqrt(error / norm);
    }

    private static void AssertPassed(GpuCheckResult result) => Assert.That(result.Passed, Is.True, result.Detail);
}
