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
        // The budgets: 70 for float32 logits, 45 for bfloat16 logits with uint8 targets. Float32 targets
        // are counted on the path of 0/1 targets (the warp votes and runs the binary body; soft targets have
        // their own ceiling, Soft_target_path_of_float32_targets_stays_within_its_ceiling).
        yield return new TestCaseData(AslDataType.Float32, AslDataType.UInt8, 70).SetArgDisplayNames("float32-logits-uint8-targets", "70");
        yield return new TestCaseData(AslDataType.Float32, AslDataType.Float32, 70).SetArgDisplayNames("float32-logits-float32-targets", "70");
        yield return new TestCaseData(AslDataType.BFloat16, AslDataType.UInt8, 45).SetArgDisplayNames("bfloat16-logits-uint8-targets", "45");
    }

    [TestCaseSource(nameof(MultiLabelBudgets))]
    public void Paper_default_multi_label_loop_stays_within_budget(AslDataType logit, AslDataType target, int budget)
    {
        var variant = MultiLabelVariant.For(logit, target, new AslOptions(), gradient: true, statistics: false);
        var listing = Listing(MultiLabelVariant.Program, variant.Defines, "asl_multilabel");
        var loop = listing.MainLoop();
        var binaryPath = target == AslDataType.UInt8 ? loop : listing.MainLoopPath(voteTrue: false);
        double perElement = (double)PtxListing.IssuingCount(binaryPath) / variant.VectorWidth;
        int bytes = 2 * logit.SizeOf() + target.SizeOf();
        TestContext.Out.WriteLine($"{logit}/{target}: {perElement:F1} instructions per element (0/1 targets), {bytes} B per element " +
                                  $"(memory-bound below {7.78 * bytes:F0}); whole loop {(double)PtxListing.IssuingCount(loop) / variant.VectorWidth:F1}");
        Assert.Multiple(() =>
        {
            Assert.That(loop.Any(i => i.Contains(".v4.", StringComparison.Ordinal)), Is.True, "the main loop is the vector loop");
            Assert.That(loop.Where(i => PtxListing.Opcode(i) is "div.rn.f32" or "rcp.rn.f32" or "sqrt.rn.f32" || i.Contains(".f64", StringComparison.Ordinal)),
                Is.Empty, "IEEE division, reciprocal or float64 in the element loop");
            Assert.That(perElement, Is.LessThanOrEqualTo(budget), "issuing PTX instructions per element");
        });
    }

    private const double SoftTargetCeiling = 85;

    [Test]
    public void Soft_target_path_of_float32_targets_stays_within_its_ceiling()
    {
        // Soft targets (label smoothing, mixup) evaluate both log terms and a pow weight: the path through the
        // soft body, what today's kernel reaches, as a ceiling.
        var variant = MultiLabelVariant.For(AslDataType.Float32, AslDataType.Float32, new AslOptions(), gradient: true, statistics: false);
        var listing = Listing(MultiLabelVariant.Program, variant.Defines, "asl_multilabel");
        double soft = (double)PtxListing.IssuingCount(listing.MainLoopPath(voteTrue: true)) / variant.VectorWidth;
        double binary = (double)PtxListing.IssuingCount(listing.MainLoopPath(voteTrue: false)) / variant.VectorWidth;
        TestContext.Out.WriteLine($"float32/float32: soft-target path {soft:F1}, 0/1-target path {binary:F1} instructions per element");
        Assert.Multiple(() =>
        {
            Assert.That(soft, Is.LessThanOrEqualTo(SoftTargetCeiling), "issuing PTX instructions per element, soft targets");
            Assert.That(soft, Is.GreaterThan(binary), "the soft body is the larger one: the vote's sides are not swapped");
        });
    }

    [Test]
    public void Single_label_default_loop_stays_within_budget()
    {
        var variant = SingleLabelVariant.For(AslDataType.Float32, AslIndexType.Int64, 1000, new SingleLabelOptions(), gradient: true);
        var loop = Listing(SingleLabelVariant.Program, variant.Defines, "asl_singlelabel").MainLoop();
        double perElement = (double)PtxListing.IssuingCount(loop) / variant.Layout.ValuesPerThread;
        TestContext.Out.WriteLine($"single-label float32 [N x 1000]: {perElement:F1} instructions per element, 8 B per element");
        Assert.That(perElement, Is.LessThanOrEqualTo(70), "issuing PTX instructions per element of the row loop");
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

    [Test]
    public void Loop_path_follows_one_side_of_the_warp_vote()
    {
        const string ptx = """
            .visible .entry k(
            	.param .u64 k_param_0
            )
            {
            $L__BB0_1:
            	ld.global.f32 	%f1, [%rd1];
            	vote.sync.any.pred 	%p2, %p1, %r1;
            	@%p2 bra 	$L__BB0_3;
            	add.f32 	%f2, %f1, %f1;
            	bra.uni 	$L__BB0_5;
            $L__BB0_3:
            $L__BB0_4:
            	mul.f32 	%f2, %f1, %f1;
            	mul.f32 	%f2, %f2, %f1;
            	mul.f32 	%f2, %f2, %f1;
            $L__BB0_5:
            	st.global.f32 	[%rd1], %f2;
            	@%p3 bra 	$L__BB0_1;
            	ret;
            }

            """;
        var listing = new PtxListing(ptx, "k");
        var binary = listing.MainLoopPath(voteTrue: false);
        var soft = listing.MainLoopPath(voteTrue: true);
        Assert.Multiple(() =>
        {
            Assert.That(listing.MainLoop(), Has.Count.EqualTo(10));
            Assert.That(binary.Select(PtxListing.Opcode), Is.EqualTo(new[] { "ld.global.f32", "vote.sync.any.pred", "bra", "add.f32", "bra.uni", "st.global.f32", "bra" }));
            Assert.That(soft.Select(PtxListing.Opcode), Is.EqualTo(new[] { "ld.global.f32", "vote.sync.any.pred", "bra", "mul.f32", "mul.f32", "mul.f32", "st.global.f32", "bra" }));
        });
    }

    private static PtxListing Listing(KernelProgram program, IReadOnlyList<string> defines, string entry)
    {
        var output = AslCuda.Cuda.Nvrtc.Compile(program.Source, program.FileName, program.Headers,
            ["--gpu-architecture=sm_90", "--std=c++17", .. defines]);
        return new PtxListing(Encoding.UTF8.GetString(output.Ptx).TrimEnd('\0'), entry);
    }
}
