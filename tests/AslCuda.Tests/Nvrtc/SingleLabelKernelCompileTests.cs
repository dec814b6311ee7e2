using AslCuda.Gpu;

namespace AslCuda.Tests.Nvrtc;

/// <summary>
/// kernels/asl_singlelabel.cu compiles with the installed NVRTC, without a GPU: every row layout with both
/// gamma modes, with and without the gradient, for sm_75, sm_80 and sm_90, with the logit type, index type
/// and row-loss switch cycled across them (each logit type meets each layout). Besides no warning, the entry
/// point and no local memory in the PTX, ptxas must report no spills: the rows live in registers.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class SingleLabelKernelCompileTests
{
    private static readonly int[] Architectures = [75, 80, 90];

    /// <summary>The largest class count of each layout (warp with 1..32 columns per lane, 256- and 512-thread blocks).</summary>
    private static readonly int[] LayoutClassCounts = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

    [SetUp]
    public void RequireNvrtc() => NvrtcRequirement.Require();

    private static IEnumerable<TestCaseData> Variants()
    {
        AslDataType[] logits = [AslDataType.Float32, AslDataType.Float64, AslDataType.Float16, AslDataType.BFloat16];
        int index = 0;
        foreach (int classes in LayoutClassCounts)
        foreach (var gammas in new[] { GammaMode.Integer, GammaMode.Pow })
        foreach (bool gradient in new[] { true, false })
        {
            var variant = new SingleLabelVariant(logits[index % 4], index % 2 == 0 ? AslIndexType.Int64 : AslIndexType.Int32, gradient,
                RowLoss: index / 4 % 2 == 0, gammas, 0, gammas == GammaMode.Integer ? 4 : 0,
                SingleLabelLayout.For(classes));
            int architecture = Architectures[index / 2 % Architectures.Length];
            index++;
            yield return new TestCaseData(variant, architecture).SetArgDisplayNames(Describe(variant), $"sm_{architecture}");
        }
    }

    [TestCaseSource(nameof(Variants))]
    public void Variant_compiles_cleanly_without_spills(object variant, int architecture) =>   // object: the variant type is internal
        AssertCompilesCleanly((SingleLabelVariant)variant, architecture);

    [TestCase(1, 2)]
    [TestCase(3, 0)]
    public void Other_whole_gammas_compile_cleanly(int gammaPos, int gammaNeg) =>
        AssertCompilesCleanly(new SingleLabelVariant(AslDataType.BFloat16, AslIndexType.Int64, true, false, GammaMode.Integer, gammaPos, gammaNeg,
            SingleLabelLayout.For(21843)), 90);

    [Test]
    public void Layouts_cover_one_to_32768_classes()
    {
        Assert.That(SingleLabelLayout.For(1), Is.EqualTo(new SingleLabelLayout(256, 32, 1)));
        Assert.That(SingleLabelLayout.For(80), Is.EqualTo(new SingleLabelLayout(256, 32, 4)));
        Assert.That(SingleLabelLayout.For(1000), Is.EqualTo(new SingleLabelLayout(256, 32, 32)));
        Assert.That(SingleLabelLayout.For(1025), Is.EqualTo(new SingleLabelLayout(256, 256, 8)));
        Assert.That(SingleLabelLayout.For(8192), Is.EqualTo(new SingleLabelLayout(256, 256, 32)));
        Assert.That(SingleLabelLayout.For(21843), Is.EqualTo(new SingleLabelLayout(512, 512, 64)));
        Assert.That(SingleLabelLayout.For(32768), Is.EqualTo(new SingleLabelLayout(512, 512, 64)));
        Assert.Throws<NotSupportedException>(() => SingleLabelLayout.For(32769));
        Assert.Throws<NotSupportedException>(() => SingleLabelLayout.For(0));
    }

    [Test]
    public void Options_pick_the_expected_variant()
    {
        var defaults = SingleLabelVariant.For(AslDataType.Float32, AslIndexType.Int64, 1000, new SingleLabelOptions(), gradient: true);
        Assert.That(defaults, Is.EqualTo(new SingleLabelVariant(AslDataType.Float32, AslIndexType.Int64, true, false, GammaMode.Integer, 0, 4,
            new SingleLabelLayout(256, 32, 32))));
        var pow = SingleLabelVariant.For(AslDataType.Float16, AslIndexType.Int32, 80,
            new SingleLabelOptions { GammaNeg = 2.5, Reduction = AslReduction.None }, gradient: false);
        Assert.That(pow, Is.EqualTo(new SingleLabelVariant(AslDataType.Float16, AslIndexType.Int32, false, true, GammaMode.Pow, 0, 0,
            new SingleLabelLayout(256, 32, 4))));
    }

    private static void AssertCompilesCleanly(SingleLabelVariant variant, int architecture) =>
        KernelCompileAssert.CompilesCleanly(SingleLabelVariant.Program, variant.Defines, architecture, "asl_singlelabel",
            SingleLabelGpu.ArgumentBytes, variant.Layout.BlockSize);

    private static string Describe(SingleLabelVariant v) =>
        $"{v.Logit}-{v.Target}-{(v.Gradient ? "grad" : "forward")}-{v.Gammas}{(v.RowLoss ? "-none" : "")}-{v.Layout.GroupSize}x{v.Layout.ValuesPerThread}";
}
