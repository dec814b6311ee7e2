using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// `core`: Stopwatch table of the CPU pass alone (ns/element/core, GB/s, % of a copy); `core extensions`: the same for
// AslCuda's extensions against the paper code's defaults. `startup core|extensions|fused NxC`:
// the first calls of this process against its steady state. Anything else goes to
// BenchmarkDotNet: a short in-process job keeps a full run within minutes on a 2-core machine and reuses this
// build (its patched native TorchSharp library included); pass BenchmarkDotNet's own flags to change it.
if (args is ["core"])
{
    AslCuda.Bench.CorePassTimings.Run();
    return;
}
if (args is ["core", "extensions"])
{
    AslCuda.Bench.CorePassTimings.RunExtensions();
    return;
}
if (args is ["startup", var what and ("core" or "extensions" or "fused"), var shape])
{
    AslCuda.Bench.StartupTimings.Run(what, shape);
    return;
}
var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("short-inprocess"));
BenchmarkSwitcher.FromAssembly(typeof(AslCuda.Bench.MultiLabelBenchmarks).Assembly).Run(args, config);
