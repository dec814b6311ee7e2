using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AslCuda.Gpu;
using AslCuda.Tests.Gpu;

namespace AslCuda.Tests.Nvrtc;

/// <summary>
/// The kernels' arithmetic without a GPU: kernels/*.cu (the embedded sources) compiled as host C++ with
/// HostEmulation/cuda_host_shim.h, one thread per block, run on the same cases and compared with the same
/// float64 oracles and tolerances as the GPU checks. This covers the element math, codecs, index arithmetic,
/// vector head/tail split and per-block sums; not warp shuffles, barriers or float16 (PTX conversions).
/// Ignored where no C++ compiler (g++ or c++) is on PATH.
/// </summary>
[TestFixture]
[NonParallelizable]
public class HostEmulationTests
{
    private string _work = "";
    private string _compiler = "";

    [OneTimeSetUp]
    public void FindCompiler()
    {
        string? compiler = new[] { "g++", "c++" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);
        if (compiler is null) Assert.Ignore("no C++ compiler (g++ or c++) on PATH to build the host emulation");
        if (!File.Exists(Path.Combine(HarnessDirectory(), "cuda_host_shim.h")))
            Assert.Ignore($"the emulation sources are not at {HarnessDirectory()} (tests built elsewhere)");
        _compiler = compiler;
        _work = Path.Combine(Path.GetTempPath(), "aslcuda-host-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_work);
        foreach (var program in new[] { MultiLabelVariant.Program, SingleLabelVariant.Program })
        {
            File.WriteAllText(Path.Combine(_work, program.FileName), program.Source);
            foreach (var (name, text) in program.Headers) File.WriteAllText(Path.Combine(_work, name), text);
        }
    }

    [OneTimeTearDown]
    public void DeleteWork()
    {
        if (_work.Length > 0) Directory.Delete(_work, recursive: true);
    }

    private static IEnumerable<MultiLabelCase> MultiLabelCases()
    {
        var sets = MultiLabelGpuChecks.OptionSets.ToDictionary(s => s.Name, s => s.Options);
        yield return new MultiLabelCase("paper-default", AslDataType.Float32, AslDataType.UInt8, sets["paper-default"], true, true, 10_007);
        yield return new MultiLabelCase("pow-full-none", AslDataType.Float32, AslDataType.Float32, sets["pow-full-none"], true, false, 10_007, ElementOffset: 1);
        yield return new MultiLabelCase("coco-full-mean", AslDataType.BFloat16, AslDataType.UInt8, sets["coco-full-mean"], true, true, 10_007, ElementOffset: 3);
        yield return new MultiLabelCase("no-focusing-no-clip", AslDataType.Float64, AslDataType.Float32, sets["no-focusing-no-clip"], true, true, 10_007);
        yield return new MultiLabelCase("int-full-clip-none-forward", AslDataType.Float32, AslDataType.UInt8, sets["int-full-clip-none"], false, false, 10_007);
        yield return new MultiLabelCase("pow-detached-no-clip-mean", AslDataType.BFloat16, AslDataType.Float32, sets["pow-detached-no-clip-mean"], true, true, 7);
    }

    private static IEnumerable<SingleLabelCase> SingleLabelCases()
    {
        var sets = SingleLabelGpuChecks.OptionSets.ToDictionary(s => s.Name, s => s.Options);
        yield return new SingleLabelCase("paper-default", AslDataType.Float32, AslIndexType.Int64, sets["paper-default"], true, 41, 300);
        yield return new SingleLabelCase("pow-none", AslDataType.Float32, AslIndexType.Int32, sets["pow-none"], true, 41, 300);
        yield return new SingleLabelCase("int-sum-no-smoothing", AslDataType.BFloat16, AslIndexType.Int64, sets["int-sum-no-smoothing"], true, 41, 300);
        yield return new SingleLabelCase("forward", AslDataType.Float64, AslIndexType.Int64, sets["paper-default"], false, 41, 77);
        yield return new SingleLabelCase("bad-targets", AslDataType.Float32, AslIndexType.Int64, sets["pow-none"], true, 41, 80, BadTargets: 2);
    }

    [TestCaseSource(nameof(MultiLabelCases))]
    public void Multi_label_kernel_matches_the_oracle_on_the_host(MultiLabelCase c) =>
        AssertPassed(MultiLabelGpuChecks.Check(c, seed: 31, new HostMultiLabelRunner(this)));

    [TestCaseSource(nameof(SingleLabelCases))]
    public void Single_label_kernel_matches_the_oracle_on_the_host(SingleLabelCase c) =>
        AssertPassed(SingleLabelGpuChecks.Check(c, seed: 32, new HostSingleLabelRunner(this)));

    private static void AssertPassed(GpuCheckResult result)
    {
        TestContext.Out.WriteLine(result.Detail);   // the errors against the oracle, for kernels/README.md
        Assert.That(result.Passed, Is.True, result.Detail);
    }

    private sealed class HostMultiLabelRunner(HostEmulationTests owner) : IMultiLabelRunner
    {
        public MultiLabelOutputs<TLogit> Run<TLogit, TTarget>(MultiLabelCase c, TLogit[] x, TTarget[] y) where TLogit : unmanaged where TTarget : unmanaged
        {
            var o = c.Options;
            var variant = MultiLabelVariant.For(c.Logit, c.Target, o, c.Gradient, c.Statistics);
            string dir = owner.CaseDirectory();
            Write(dir, "x.bin", x);
            Write(dir, "y.bin", y);
            bool mean = o.Reduction == AslReduction.Mean;
            owner.Run("host_multilabel.cpp", MultiLabelVariant.Program, variant.Defines, dir,
                c.Count, c.ElementOffset, 7, (float)o.Clip, (float)o.Eps, (float)Math.Log(o.Eps), (float)o.GammaPos, (float)o.GammaNeg,
                mean ? (float)(1.0 / c.Count) : 1f, mean ? 1.0 / c.Count : 1.0);
            double[] sums = Read<double>(dir, "sums.bin");
            return new MultiLabelOutputs<TLogit>(
                c.Gradient ? Read<TLogit>(dir, "gradient.bin") : [],
                o.Reduction == AslReduction.None ? Read<TLogit>(dir, "loss.bin") : [],
                (float)sums[0],
                c.Statistics ? sums[1..] : []);
        }
    }

    private sealed class HostSingleLabelRunner(HostEmulationTests owner) : ISingleLabelRunner
    {
        public SingleLabelOutputs<TLogit> Run<TLogit, TIndex>(SingleLabelCase c, TLogit[] x, TIndex[] t) where TLogit : unmanaged where TIndex : unmanaged
        {
            var o = c.Options;
            // One thread per row holding the whole row: the layout the shim can run.
            var variant = SingleLabelVariant.For(c.Logit, c.Target, c.Classes, o, c.Gradient) with { Layout = new SingleLabelLayout(1, 1, c.Classes) };
            string dir = owner.CaseDirectory();
            Write(dir, "x.bin", x);
            Write(dir, "t.bin", t);
            bool mean = o.Reduction == AslReduction.Mean;
            owner.Run("host_singlelabel.cpp", SingleLabelVariant.Program, variant.Defines, dir,
                c.Rows, c.Classes, 5, (float)o.GammaPos, (float)o.GammaNeg, (float)o.Eps, mean ? (float)(1.0 / c.Rows) : 1f,
                mean ? 1.0 / c.Rows : 1.0);
            double[] sums = Read<double>(dir, "sums.bin");
            return new SingleLabelOutputs<TLogit>(
                c.Gradient ? Read<TLogit>(dir, "gradient.bin") : [],
                o.Reduction == AslReduction.None ? Read<TLogit>(dir, "loss.bin") : [],
                (float)sums[0]);
        }
    }

    private string CaseDirectory()
    {
        string dir = Path.Combine(_work, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Builds the harness for these defines (kernel from the embedded source) and runs it on <paramref name="dir"/>.</summary>
    private void Run(string harness, KernelProgram program, IReadOnlyList<string> defines, string dir, params object[] arguments)
    {
        string exe = Path.Combine(dir, "harness");
        Execute(_compiler, ["-std=c++17", "-O1", "-w", $"-I{_work}", $"-DASL_KERNEL=\"{program.FileName}\"", .. defines,
            Path.Combine(HarnessDirectory(), harness), "-o", exe]);
        Execute(exe, [dir, .. arguments.Select(a => Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!)]);
    }

    private static void Execute(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"{Path.GetFileName(file)} failed:\n{output}");
    }

    private static void Write<T>(string dir, string name, T[] values) where T : unmanaged =>
        File.WriteAllBytes(Path.Combine(dir, name), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static T[] Read<T>(string dir, string name) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(File.ReadAllBytes(Path.Combine(dir, name))).ToArray();

    private static string HarnessDirectory([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "HostEmulation");
}
