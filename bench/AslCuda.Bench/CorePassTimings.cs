using System.Diagnostics;
using System.Runtime.InteropServices;
using AslCuda.Cpu;

namespace AslCuda.Bench;

/// <summary>
/// Stopwatch timings of <see cref="MultiLabelCpu"/> on arrays, for numbers BenchmarkDotNet does not give: ns per
/// element per core, GB/s against a same-process copy of the same bytes, and the first calls of a process.
/// Every row is the median of several batches; the spread (min-max of the batches) shows the noise of a shared
/// machine. ns/element/core is the process's CPU time (all threads) per element, which other processes on the
/// same cores disturb far less than wall-clock time; wall-clock GB/s is given beside it.
/// </summary>
internal static partial class CorePassTimings
{
    private const int Batches = 9;
    private const int SingleThreadSize = 128 * 384;

    /// <summary>One thread on a cache-resident size, then both cores on 256x9605, for each logit and target type.</summary>
    public static void Run()
    {
        Console.WriteLine($"core pass, {Environment.ProcessorCount} cores, Vector512 accelerated: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
        Console.WriteLine($"{"logits",-9} {"targets",-8} {"elements",9} {"threads",7} {"ns/elem/core",12} {"spread",13} {"GB/s",6} {"copy GB/s",9} {"% of copy",9}");
        Console.WriteLine("(ns/elem/core: process CPU time per element; GB/s: bytes read and written per wall-clock second)");
        foreach (int count in new[] { SingleThreadSize, 256 * 9605 })
        {
            Row<float, float>("float32", "float32", count);
            Row<float, byte>("float32", "uint8", count);
            Row<double, float>("float64", "float32", count);
            Row<Half, float>("float16", "float32", count);
            Row<BFloat16, float>("bfloat16", "float32", count);
            Row<BFloat16, byte>("bfloat16", "uint8", count);
        }
    }

    /// <summary>
    /// float32 logits and targets, [256, 9605] on both cores, for the paper code's defaults and AslCuda's extensions: what
    /// batchmean, the full gradient, smoothing (every target soft) and the per-class factors cost.
    /// </summary>
    public static void RunExtensions()
    {
        const int Classes = 9605;
        var weight = Enumerable.Range(0, Classes).Select(c => 0.5f + c % 3).ToArray();
        var posWeight = Enumerable.Range(0, Classes).Select(c => 1f + c % 4).ToArray();
        var fullGradientBatchMean = new AslOptions { DetachFocalWeight = false, Reduction = AslReduction.BatchMean };
        Console.WriteLine($"core pass with AslCuda's extensions, float32, 256x{Classes}, {Environment.ProcessorCount} cores, Vector512 accelerated: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
        Console.WriteLine($"{"options",-44} {"ns/elem/core",12} {"spread",13} {"GB/s",6}");
        foreach (var (name, options) in new (string, AslOptions)[]
        {
            ("paper defaults", new AslOptions()),
            ("batchmean, full gradient", fullGradientBatchMean),
            ("+ pos_weight [C] + weight [C]", fullGradientBatchMean with { PosWeight = posWeight, ClassWeight = weight }),
            ("+ smoothing 0.1", fullGradientBatchMean with { Smoothing = 0.1 }),
            ("+ smoothing + pos_weight [C] + weight [C]", fullGradientBatchMean with { Smoothing = 0.1, PosWeight = posWeight, ClassWeight = weight }),
        })
        {
            var (pass, gbs) = Time<float, float>(256 * Classes, options, Classes);
            Console.WriteLine($"{name,-44} {pass.CpuMedian,12:F3} {pass.CpuMin,6:F3}-{pass.CpuMax,-6:F3} {gbs,6:F1}");
        }
    }

    private static ((double CpuMedian, double CpuMin, double CpuMax, double WallMedian) Pass, double GBs) Time<TLogit, TTarget>(
        int count, AslOptions options, int classes)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        var (x, y) = Inputs<TLogit, TTarget>(count, seed: 1);
        var gradient = new TLogit[count];
        var pass = Measure(() => MultiLabelCpu.Compute<TLogit, TTarget>(x, y, options, gradient, classes: classes), count);
        int bytesPerElement = System.Runtime.CompilerServices.Unsafe.SizeOf<TLogit>() * 2 + System.Runtime.CompilerServices.Unsafe.SizeOf<TTarget>();
        return (pass, bytesPerElement / pass.WallMedian);
    }

    private static void Row<TLogit, TTarget>(string logitName, string targetName, int count)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        var (x, y) = Inputs<TLogit, TTarget>(count, seed: 1);
        var gradient = new TLogit[count];
        var options = new AslOptions();
        // The cache-resident size is below the pass's parallel threshold (one thread); 256x9605 is above it.
        int threads = count > SingleThreadSize ? Environment.ProcessorCount : 1;
        var pass = Measure(() => MultiLabelCpu.Compute<TLogit, TTarget>(x, y, options, gradient), count);
        var xCopy = new TLogit[count];
        var yCopy = new TTarget[count];
        var copy = Measure(() => { x.AsSpan().CopyTo(xCopy); y.AsSpan().CopyTo(yCopy); return 0; }, count);
        int bytesPerElement = System.Runtime.CompilerServices.Unsafe.SizeOf<TLogit>() * 2 + System.Runtime.CompilerServices.Unsafe.SizeOf<TTarget>();
        int copyBytesPerElement = (System.Runtime.CompilerServices.Unsafe.SizeOf<TLogit>() + System.Runtime.CompilerServices.Unsafe.SizeOf<TTarget>()) * 2;
        double gbs = bytesPerElement / pass.WallMedian, copyGbs = copyBytesPerElement / copy.WallMedian;
        Console.WriteLine($"{logitName,-9} {targetName,-8} {count,9} {threads,7} {pass.CpuMedian,12:F3} {pass.CpuMin,6:F3}-{pass.CpuMax,-6:F3} {gbs,6:F1} {copyGbs,9:F1} {100 * gbs / copyGbs,8:F0}%");
    }

    /// <summary>Logits uniform in [-8, 8] (the benchmarks' data) and about 5 % positive targets.</summary>
    public static (TLogit[] X, TTarget[] Y) Inputs<TLogit, TTarget>(int count, int seed)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        var random = new Random(seed);
        var x = new TLogit[count];
        var y = new TTarget[count];
        for (int i = 0; i < count; i++)
        {
            x[i] = Convert<TLogit>(random.NextDouble() * 16 - 8);
            y[i] = Convert<TTarget>(random.NextDouble() < 0.05 ? 1 : 0);
        }
        return (x, y);
    }

    private static T Convert<T>(double value) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T)(object)(float)value
        : typeof(T) == typeof(double) ? (T)(object)value
        : typeof(T) == typeof(Half) ? (T)(object)(Half)value
        : typeof(T) == typeof(BFloat16) ? (T)(object)(BFloat16)(float)value
        : (T)(object)(byte)value;

    /// <summary>
    /// ns per element over batches of calls lasting about 50 ms each, after a 0.5 s warm-up: CPU time of the
    /// process (median, min, max) and wall-clock time (median).
    /// </summary>
    private static (double CpuMedian, double CpuMin, double CpuMax, double WallMedian) Measure(Func<double> action, int count)
    {
        var warmUp = Stopwatch.StartNew();
        int calls = 0;
        while (warmUp.ElapsedMilliseconds < 500) { action(); calls++; }
        int perBatch = Math.Max(1, (int)(calls * 50 / warmUp.Elapsed.TotalMilliseconds));
        var cpu = new double[Batches];
        var wall = new double[Batches];
        for (int b = 0; b < Batches; b++)
        {
            long cpuStart = ProcessCpuNanoseconds();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < perBatch; i++) action();
            wall[b] = watch.Elapsed.TotalNanoseconds / perBatch / count;
            cpu[b] = (double)(ProcessCpuNanoseconds() - cpuStart) / perBatch / count;
        }
        Array.Sort(cpu);
        Array.Sort(wall);
        return (cpu[Batches / 2], cpu[0], cpu[^1], wall[Batches / 2]);
    }

    /// <summary>CPU time of every thread of this process (Linux CLOCK_PROCESS_CPUTIME_ID, nanosecond resolution).</summary>
    public static long ProcessCpuNanoseconds()
    {
        const int ClockProcessCpuTimeId = 2;
        if (ClockGetTime(ClockProcessCpuTimeId, out var time) != 0)
            throw new InvalidOperationException($"clock_gettime failed with errno {Marshal.GetLastPInvokeError()}");
        return time.Seconds * 1_000_000_000 + time.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static partial int ClockGetTime(int clock, out TimeSpec time);
}
