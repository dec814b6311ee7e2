using System.Text;
using AslCuda.Gpu;

namespace AslCuda.Tests.Nvrtc;

/// <summary>
/// The static instruction budget of the paper-default kernels (kernels/README.md, "Instruction budget"):
/// compiled for sm_90 with the installed NVRTC, the main loop's PTX instructions that issue in SASS
/// (<see cref="PtxListing.IssuingCount"/>), divided by the elements one iteration handles, stay within the
/// budget. An H200 issues about 132 x 4 x 1.98e9 = 1.05e12 warp instructions (3.3e13 thread instructions)
/// per second, against 4.3e12 bytes per second of copy bandwidth: a kernel moving B bytes per element keeps
/// up with memory only below 7.8 B instructions per element (70 for float32 logits with uint8 targets). The multi-label loop must also hold no IEEE division or reciprocal and no
/// float64 (each hides a multi-instruction SASS sequence behind one PTX line).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class PtxInstructionBudgetTests
{
    [SetUp]
    public void RequireNvrtc() => NvrtcRequirement.Require();

    private static IEnumerable<TestCaseData> MultiLabelBudgets()
    {
        // Budgets: what the kernels reach today, as ceilings (README: before/after table and why the
        // issue's 45 for bfloat16 is not reached without giving up accuracy).
        yield return new TestCaseData(AslDataType.Float32, AslDataType.UInt8, 70).SetArgDisplayNames("float32-logits-uint8-targets", "70");
        yield return new TestCaseData(AslDataType.Float32, AslDataType.Float32, 110).SetArgDisplayNames("float32-logits-float32-targets", "110");
        yield return new TestCaseData(AslDataType.BFloat16, AslDataType.UInt8, 70).SetArgDisplayNames("bfloat16-logits-uint8-targets", "70");
    }

    [TestCaseSource(nameof(MultiLabelBudgets))]
    public void Paper_default_multi_label_loop_stays_within_budget(AslDataType logit, AslDataType target, int budget)
    {
        var variant = MultiLabelVariant.For(logit, target, new AslOptions(), gradient: true, statistics: false);
        var loop = MainLoop(MultiLabelVariant.Program, variant.Defines, "asl_multilabel");
        double perElement = (double)PtxListing.IssuingCount(loop) / variant.VectorWidth;
        int bytes = 2 * logit.SizeOf() + target.SizeOf();
        TestContext.Out.WriteLine($"{logit}/{target}: {perElement:F1} instructions per element, {bytes} B per element " +
                                  $"(memory-bound below {7.78 * bytes:F0})");
        Assert.Multiple(() =>
        {
            Assert.That(loop.Any(i => i.Contains(".v4.", StringComparison.Ordinal)), Is.True, "the main loop is the vector loop");
            Assert.That(loop.Where(i => PtxListing.Opcode(i) is "div.rn.f32" or "rcp.rn.f32" or "sqrt.rn.f32" || i.Contains(".f64", StringComparison.Ordinal)),
                Is.Empty, "IEEE division, reciprocal or float64 in the element loop");
            Assert.That(perElement, Is.LessThanOrEqualTo(budget), "issuing PTX instructions per element");
        });
    }

    [Test]
    public void Single_label_default_loop_stays_within_budget()
    {
        var variant = SingleLabelVariant.For(AslDataType.Float32, AslIndexType.Int64, 1000, new SingleLabelOptions(), gradient: true);
        var loop = MainLoop(SingleLabelVariant.Program, variant.Defines, "asl_singlelabel");
        double perElement = (double)PtxListing.IssuingCount(loop) / variant.Layout.ValuesPerThread;
        TestContext.Out.WriteLine($"single-label float32 [N x 1000]: {perElement:F1} instructions per element, 8 B per element");
        Assert.That(perElement, Is.LessThanOrEqualTo(72), "issuing PTX instructions per element of the row loop");
    }

    [Test]
    public void Loop_finder_takes_the_largest_backward_branch_region()
    {
        const string ptx = """
            .visible .entry k(
            	.param .u64 k_param_0,
            	.param .f32 k_param_1
            )
            .maxntid 128, 1, 1
            {
            $L__BB0_1:
            	add.f32 	%f1, %f1, %f2;
            	@%p1 bra 	$L__BB0_1;
            $L__BB0_2:
            	mov.f32 	%f3, 0f3F800000;
            	neg.f32 	%f4, %f3;
            	mul.f32 	%f5, %f4, %f1;
            	fma.rn.f32 	%f6, %f5, %f1, %f4;
            	bra.uni 	$L__BB0_2;
            	ret;
            }

            """;
        var listing = new PtxListing(ptx, "k");
        var loop = listing.MainLoop();
        Assert.Multiple(() =>
        {
            Assert.That(listing.ParameterBytes, Is.EqualTo(new[] { 8, 4 }));
            Assert.That(listing.MaxThreads, Is.EqualTo(128));
            Assert.That(loop, Has.Count.EqualTo(5));
            Assert.That(PtxListing.IssuingCount(loop), Is.EqualTo(3), "mul, fma, bra issue; mov and neg do not");
        });
    }

    private static IReadOnlyList<string> MainLoop(KernelProgram program, IReadOnlyList<string> defines, string entry)
    {
        var output = AslCuda.Cuda.Nvrtc.Compile(program.Source, program.FileName, program.Headers,
            ["--gpu-architecture=sm_90", "--std=c++17", .. defines]);
        return new PtxListing(Encoding.UTF8.GetString(output.Ptx).TrimEnd('\0'), entry).MainLoop();
    }
}
