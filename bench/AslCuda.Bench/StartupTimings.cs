using System.Diagnostics;
using System.Runtime;
using AslCuda.Cpu;
using AslCuda.TorchSharp;
using TorchSharp;

namespace AslCuda.Bench;

/// <summary>
/// The first calls of a fresh process against its steady state: call 1 (JIT compilation of the pass included),
/// the slowest and the median of calls 2-10, the slowest of calls 11-100, and the median of 200 calls after one second
/// of warm-up.
/// Run it as its own process per row (`startup core 128x80`, `startup fused 256x9605`), so that call 1 is the
/// process's first.
/// </summary>
internal static class StartupTimings
{
    public static void Run(string what, string shape)
    {
        var dims = shape.Split('x').Select(int.Parse).ToArray();
        var (xs, ys) = CorePassTimings.Inputs<float, float>(dims[0] * dims[1], seed: 1);
        Func<double> call;
        if (what is "core" or "extensions")
        {
            // extensions: the full gradient and batchmean with smoothing and per-class pos_weight, the loops that
            // ReadyToRun leaves to the JIT.
            var gradient = new float[xs.Length];
            var options = what == "core" ? new AslOptions()
                : new AslOptions { DetachFocalWeight = false, Reduction = AslReduction.BatchMean, Smoothing = 0.1, PosWeight = Enumerable.Range(0, dims[1]).Select(c => 1f + c % 4).ToArray() };
            call = () => MultiLabelCpu.Compute<float, float>(xs, ys, options, gradient, classes: dims[1]);
        }
        else
        {
            var x = torch.tensor(xs, dims[0], dims[1]);
            var y = torch.tensor(ys, dims[0], dims[1]);
            call = () =>
            {
                using var scope = torch.NewDisposeScope();
                var leaf = x.detach().requires_grad_(true);
                var loss = AslFunctional.asymmetric_loss(leaf, y, backend: AslBackend.Fused);
                loss.backward();
                return loss.item<float>();
            };
        }

        // JIT time and methods compiled on this thread during call 1 (System.Runtime.JitInfo): how much of it is compilation.
        var jitBefore = JitInfo.GetCompilationTime(currentThread: true);
        long methodsBefore = JitInfo.GetCompiledMethodCount(currentThread: true);
        double first = Milliseconds(call);
        double firstJit = (JitInfo.GetCompilationTime(currentThread: true) - jitBefore).TotalMilliseconds;
        long firstMethods = JitInfo.GetCompiledMethodCount(currentThread: true) - methodsBefore;
        var early = Enumerable.Range(0, 9).Select(_ => Milliseconds(call)).ToArray();
        // Calls 11-100 span tiered compilation's switch from precompiled (or first-JIT) code to tier-1 code at ~30 calls.
        var tiering = Enumerable.Range(0, 90).Select(_ => Milliseconds(call)).ToArray();
        var warmUp = Stopwatch.StartNew();
        while (warmUp.ElapsedMilliseconds < 1000) call();
        var steady = Enumerable.Range(0, 200).Select(_ => Milliseconds(call)).Order().ToArray();
        double median = steady[steady.Length / 2];
        Console.WriteLine($"{what,-6} {shape,-9} call 1 {first,9:F3} ms ({first / median,6:F1}x, JIT {firstJit:F1} ms for {firstMethods} methods)   calls 2-10 max {early.Max(),8:F3} ms ({early.Max() / median,4:F2}x), " +
                          $"median {early.Order().ElementAt(4),8:F3} ms ({early.Order().ElementAt(4) / median,4:F2}x)   calls 11-100 max {tiering.Max(),8:F3} ms ({tiering.Max() / median,4:F2}x)   steady median {median,8:F3} ms (p10-p90 {steady[20]:F3}-{steady[180]:F3})");
    }

    private static double Milliseconds(Func<double> call)
    {
        var watch = Stopwatch.StartNew();
        call();
        return watch.Elapsed.TotalMilliseconds;
    }
}
