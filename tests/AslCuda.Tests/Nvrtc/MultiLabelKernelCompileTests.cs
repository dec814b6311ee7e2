using AslCuda.Gpu;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Nvrtc;

/// <summary>
/// kernels/asl_multilabel.cu compiles with the installed NVRTC, without a GPU, for sm_75, sm_80 and sm_90:
/// no warning, the entry point, no local memory or register spills, and a CUBIN.
/// The variants are a covering set: every logit type x target type x (gradient, gamma mode) pair, with the
/// three on/off switches (element loss, statistics, clip) cycled so that each of their 8 combinations
/// meets every logit type and every (gradient, gamma mode) pair.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class MultiLabelKernelCompileTests
{
    private static readonly int[] Architectures = [75, 80, 90];

    [SetUp]
    public void RequireNvrtc() => NvrtcRequirement.Require();

    private static IEnumerable<TestCaseData> Variants()
    {
        AslDataType[] logits = [AslDataType.Float32, AslDataType.Float64, AslDataType.Float16, AslDataType.BFloat16];
        AslDataType[] targets = [AslDataType.Float32, AslDataType.UInt8];
        var modes = new List<(MultiLabelGradient, GammaMode)>();
        foreach (var gradient in Enum.GetValues<MultiLabelGradient>())
        foreach (var gammas in Enum.GetValues<GammaMode>())
            if (!(gradient == MultiLabelGradient.Full && gammas == GammaMode.None)) modes.Add((gradient, gammas));

        for (int l = 0; l < logits.Length; l++)
        for (int t = 0; t < targets.Length; t++)
        for (int m = 0; m < modes.Count; m++)
        {
            int switches = (l * 2 + t + m) % 8;
            var (gradient, gammas) = modes[m];
            bool integer = gammas == GammaMode.Integer;
            var variant = new MultiLabelVariant(logits[l], targets[t], gradient, ElementLoss: (switches & 1) != 0,
                Statistics: (switches & 2) != 0, Clip: (switches & 4) != 0, gammas, integer ? 1 : 0, integer ? 4 : 0);
            foreach (int architecture in Architectures)
                yield return new TestCaseData(variant, architecture).SetArgDisplayNames(Describe(variant), $"sm_{architecture}");
        }
    }

    [TestCaseSource(nameof(Variants))]
    public void Variant_compiles_cleanly(object variant, int architecture) => AssertCompilesCleanly((MultiLabelVariant)variant, architecture);   // object: the variant type is internal

    /// <summary>
    /// the extension switches (smoothing, class weight, pos_weight one/per class): four combinations with every logit and target
    /// type, the (gradient, gamma mode) pairs and the three on/off switches cycled, on sm_90; every term at once also on
    /// sm_75 and sm_80. Their .entry takes the six extra arguments.
    /// </summary>
    private static IEnumerable<TestCaseData> ExtensionVariants()
    {
        (bool Smoothing, bool ClassWeight, PosWeightMode PosWeight)[] terms =
            [(true, false, PosWeightMode.None), (false, true, PosWeightMode.Scalar), (false, false, PosWeightMode.PerClass), (true, true, PosWeightMode.PerClass)];
        (MultiLabelGradient, GammaMode)[] modes =
        [
            (MultiLabelGradient.Detached, GammaMode.Integer), (MultiLabelGradient.Full, GammaMode.Pow), (MultiLabelGradient.None, GammaMode.Pow),
            (MultiLabelGradient.Detached, GammaMode.None), (MultiLabelGradient.Full, GammaMode.Integer),
        ];
        int index = 0;
        foreach (var logit in new[] { AslDataType.Float32, AslDataType.Float64, AslDataType.Float16, AslDataType.BFloat16 })
        foreach (var target in new[] { AslDataType.Float32, AslDataType.UInt8 })
        foreach (var (smoothing, classWeight, posWeight) in terms)
        {
            var (gradient, gammas) = modes[index % modes.Length];
            int switches = index++ % 8;
            bool integer = gammas == GammaMode.Integer;
            var variant = new MultiLabelVariant(logit, target, gradient, ElementLoss: (switches & 1) != 0, Statistics: (switches & 2) != 0,
                Clip: (switches & 4) != 0, gammas, integer ? 1 : 0, integer ? 4 : 0, smoothing, classWeight, posWeight);
            bool all = smoothing && classWeight;
            foreach (int architecture in all ? Architectures : [90])
                yield return new TestCaseData(variant, architecture).SetArgDisplayNames(Describe(variant), $"sm_{architecture}");
        }
    }

    [TestCaseSource(nameof(ExtensionVariants))]
    public void Extension_variant_compiles_cleanly(object variant, int architecture) => AssertCompilesCleanly((MultiLabelVariant)variant, architecture);

    [TestCase(0, 4)]
    [TestCase(3, 1)]
    [TestCase(2, 7)]
    public void Other_whole_gammas_compile_cleanly(int gammaPos, int gammaNeg)
    {
        var variant = new MultiLabelVariant(AslDataType.Float32, AslDataType.Float32, MultiLabelGradient.Full, false, false, true,
            GammaMode.Integer, gammaPos, gammaNeg);
        AssertCompilesCleanly(variant, 90);
    }

    [Test]
    public void Full_gradient_without_focusing_is_rejected_at_compile_time()
    {
        var variant = new MultiLabelVariant(AslDataType.Float32, AslDataType.UInt8, MultiLabelGradient.Full, false, false, true, GammaMode.None, 0, 0);
        var program = MultiLabelVariant.Program;
        var e = Assert.Throws<AslCuda.Cuda.NvrtcException>(() =>
            AslCuda.Cuda.Nvrtc.Compile(program.Source, program.FileName, program.Headers, ["--gpu-architecture=sm_90", .. variant.Defines]));
        Assert.That(e!.ErrorName, Is.EqualTo("NVRTC_ERROR_COMPILATION"));
        Assert.That(e.Log, Does.Contain("ASL_GRADIENT=1"));
    }

    [Test]
    public void Options_pick_the_expected_variant()
    {
        var defaults = MultiLabelVariant.For(AslDataType.BFloat16, AslDataType.UInt8, new AslOptions(), gradient: true, statistics: false);
        Assert.That(defaults, Is.EqualTo(new MultiLabelVariant(AslDataType.BFloat16, AslDataType.UInt8, MultiLabelGradient.Detached,
            false, false, true, GammaMode.Integer, 1, 4)));
        var adaptive = MultiLabelVariant.For(AslDataType.Float32, AslDataType.Float32,
            new AslOptions { GammaNeg = 3.25, DetachFocalWeight = false, Clip = 0, Reduction = AslReduction.None }, gradient: true, statistics: true);
        Assert.That(adaptive, Is.EqualTo(new MultiLabelVariant(AslDataType.Float32, AslDataType.Float32, MultiLabelGradient.Full,
            true, true, false, GammaMode.Pow, 0, 0)));
        var plain = MultiLabelVariant.For(AslDataType.Float32, AslDataType.Float32,
            new AslOptions { GammaNeg = 0, GammaPos = 0, DetachFocalWeight = false }, gradient: true, statistics: false);
        Assert.That(plain.Gradient, Is.EqualTo(MultiLabelGradient.Detached), "without focusing the full gradient is the detached one");

        var batchMean = MultiLabelVariant.For(AslDataType.Float32, AslDataType.UInt8, TestOptions.FullGradientBatchMean, gradient: true, statistics: false);
        Assert.That(batchMean, Is.EqualTo(new MultiLabelVariant(AslDataType.Float32, AslDataType.UInt8, MultiLabelGradient.Full,
            false, false, true, GammaMode.Integer, 1, 4, ScaleGradient: true)), "batchmean is a scale: the paper code's variant, scaled as mean");
        Assert.That(MultiLabelVariant.For(AslDataType.Float32, AslDataType.UInt8, new AslOptions { Reduction = AslReduction.Sum }, gradient: true, statistics: false).ScaleGradient,
            Is.False, "sum needs no multiply");
        Assert.That(MultiLabelVariant.For(AslDataType.Float32, AslDataType.UInt8, new AslOptions { Clip = 1e-9 }, gradient: true, statistics: false).Defines,
            Does.Contain("-DASL_CLIP=2"), "a clip below eps keeps the kernel's eps test");
        Assert.That(batchMean.HasExtensions, Is.False);
        var timm = MultiLabelVariant.For(AslDataType.Float16, AslDataType.Float32,
            TestOptions.FullGradientBatchMean with { Smoothing = 0.1, ClassWeight = new[] { 1f, 2f }, PosWeight = new[] { 3f } }, gradient: true, statistics: false);
        Assert.That((timm.Smoothing, timm.ClassWeight, timm.PosWeight), Is.EqualTo((true, true, PosWeightMode.Scalar)));
        Assert.That(timm.Defines, Does.Contain("-DASL_SMOOTHING=1").And.Contain("-DASL_CLASS_WEIGHT=1").And.Contain("-DASL_POS_WEIGHT=1"));
        var perClass = MultiLabelVariant.For(AslDataType.Float32, AslDataType.Float32, new AslOptions { PosWeight = new[] { 1f, 2f } }, gradient: true, statistics: false);
        Assert.That((perClass.Smoothing, perClass.ClassWeight, perClass.PosWeight), Is.EqualTo((false, false, PosWeightMode.PerClass)));
        Assert.That(MultiLabelGpu.ArgumentBytes(perClass), Has.Length.EqualTo(22));
        Assert.That(MultiLabelGpu.ArgumentBytes(batchMean), Has.Length.EqualTo(16));
    }

    private static void AssertCompilesCleanly(MultiLabelVariant variant, int architecture) =>
        KernelCompileAssert.CompilesCleanly(MultiLabelVariant.Program, variant.Defines, architecture, "asl_multilabel",
            MultiLabelGpu.ArgumentBytes(variant), MultiLabelVariant.BlockSize);

    private static string Describe(MultiLabelVariant v) =>
        $"{v.Logit}-{v.Target}-{v.Gradient}-{v.Gammas}{(v.ElementLoss ? "-none" : "")}{(v.Statistics ? "-stats" : "")}{(v.Clip ? "-clip" : "")}" +
        $"{(v.Smoothing ? "-smoothing" : "")}{(v.ClassWeight ? "-weight" : "")}{(v.PosWeight != PosWeightMode.None ? $"-pos{v.PosWeight}" : "")}";
}
