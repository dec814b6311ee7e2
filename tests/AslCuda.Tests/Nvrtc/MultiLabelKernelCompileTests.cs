using AslCuda.Gpu;

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
    }

    private static void AssertCompilesCleanly(MultiLabelVariant variant, int architecture) =>
        KernelCompileAssert.CompilesCleanly(MultiLabelVariant.Program, variant.Defines, architecture, "asl_multilabel",
            MultiLabelGpu.ArgumentBytes(variant), MultiLabelVariant.BlockSize);

    private static string Describe(MultiLabelVariant v) =>
        $"{v.Logit}-{v.Target}-{v.Gradient}-{v.Gammas}{(v.ElementLoss ? "-none" : "")}{(v.Statistics ? "-stats" : "")}{(v.Clip ? "-clip" : "")}";
}
