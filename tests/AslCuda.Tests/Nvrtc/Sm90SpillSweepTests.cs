using AslCuda.Gpu;

namespace AslCuda.Tests.Nvrtc;

/// <summary>
/// The register-hungry corners of every variant family compiled for sm_90 (the H200): no spill, no local
/// memory, and the launch interface (parameters, .maxntid) as the launchers use it. Multi-label: every logit
/// type x target type x (gradient, gamma mode) with element loss, statistics and clip all on (the most live
/// state per element), once without and once with every extension (smoothing, per-class weight and pos_weight). Single-label: every row layout the launcher can pick, including the 1, 2 and 4 rows
/// per block of small batches, with float64 logits (the widest loads and stores), the gradient and both gamma
/// modes. These sets found the spills that <c>__launch_bounds__</c> now prevents (kernels/README.md).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class Sm90SpillSweepTests
{
    [SetUp]
    public void RequireNvrtc() => NvrtcRequirement.Require();

    private static IEnumerable<TestCaseData> MultiLabelVariants()
    {
        foreach (var logit in new[] { AslDataType.Float32, AslDataType.Float64, AslDataType.Float16, AslDataType.BFloat16 })
        foreach (var target in new[] { AslDataType.Float32, AslDataType.UInt8 })
        foreach (var gradient in Enum.GetValues<MultiLabelGradient>())
        foreach (var gammas in Enum.GetValues<GammaMode>())
        {
            if (gradient == MultiLabelGradient.Full && gammas == GammaMode.None) continue;
            bool integer = gammas == GammaMode.Integer;
            var variant = new MultiLabelVariant(logit, target, gradient, ElementLoss: true, Statistics: true, Clip: true, gammas,
                integer ? 1 : 0, integer ? 4 : 0);
            yield return new TestCaseData(variant).SetArgDisplayNames($"{logit}-{target}-{gradient}-{gammas}");
            // Every extension on too (smoothing, per-class weight and pos_weight): the most live state there is.
            yield return new TestCaseData(variant with { Smoothing = true, ClassWeight = true, PosWeight = PosWeightMode.PerClass })
                .SetArgDisplayNames($"{logit}-{target}-{gradient}-{gammas}-extensions");
        }
    }

    private static IEnumerable<TestCaseData> SingleLabelVariants()
    {
        var layouts = new[] { 32, 64, 128, 256, 512, 1024 }
            .SelectMany(classes => new long[] { 32, 64, 128, 1 << 20 }.Select(rows => SingleLabelLayout.For(classes).ForRows(rows, 32)))
            .Concat(new[] { 2048, 4096, 8192, 16384, 32768 }.Select(classes => SingleLabelLayout.For(classes)))
            .Distinct();
        foreach (var layout in layouts)
        foreach (var gammas in new[] { GammaMode.Integer, GammaMode.Pow })
        {
            var variant = new SingleLabelVariant(AslDataType.Float64, AslIndexType.Int64, true, false, gammas, 0,
                gammas == GammaMode.Integer ? 4 : 0, layout);
            yield return new TestCaseData(variant).SetArgDisplayNames($"{layout.BlockSize}x{layout.GroupSize}x{layout.ValuesPerThread}-{gammas}");
        }
    }

    [TestCaseSource(nameof(MultiLabelVariants))]
    public void Multi_label_variant_does_not_spill_on_sm_90(object variant)   // object: the variant type is internal
    {
        var v = (MultiLabelVariant)variant;
        KernelCompileAssert.CompilesCleanly(MultiLabelVariant.Program, v.Defines, 90, "asl_multilabel", MultiLabelGpu.ArgumentBytes(v), MultiLabelVariant.BlockSize);
    }

    [TestCaseSource(nameof(SingleLabelVariants))]
    public void Single_label_variant_does_not_spill_on_sm_90(object variant)
    {
        var v = (SingleLabelVariant)variant;
        KernelCompileAssert.CompilesCleanly(SingleLabelVariant.Program, v.Defines, 90, "asl_singlelabel", SingleLabelGpu.ArgumentBytes, v.Layout.BlockSize);
    }

    [Test]
    public void Small_batches_get_fewer_rows_per_block()
    {
        var layout = SingleLabelLayout.For(1000);
        Assert.Multiple(() =>
        {
            Assert.That(layout.ForRows(256, 132).BlockSize, Is.EqualTo(32), "256 rows on 132 SMs: one row per block, 256 blocks");
            Assert.That(layout.ForRows(600, 132).BlockSize, Is.EqualTo(128), "600 rows: 4 rows per block, 150 blocks");
            Assert.That(layout.ForRows(100_000, 132).BlockSize, Is.EqualTo(256));
            Assert.That(SingleLabelLayout.For(5000).ForRows(8, 132), Is.EqualTo(SingleLabelLayout.For(5000)), "a block per row keeps its layout");
        });
    }
}
