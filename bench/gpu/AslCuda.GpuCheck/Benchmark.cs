using System.Text.Json;
using AslCuda.Cuda;
using AslCuda.Gpu;

namespace AslCuda.GpuCheck;

/// <summary>
/// Times the multi-label kernel with CUDA events: warm-up, then the median over repeats of a batch of
/// launches, rotating over enough input sets that they do not fit in L2 together. Bandwidth counts the
/// logits and targets read and the gradient written, against a device-to-device copy measured here.
/// </summary>
internal static class Benchmark
{
    private static int Repeats => Shapes.Emulated ? 3 : 21;
    private static int LaunchesPerBatch => Shapes.Emulated ? 2 : 20;

    public static int Run(string jsonPath)
    {
        var device = GpuDevice.Get(0);
        Console.WriteLine(Prewarm(device));
        double copy = CopyBandwidth(device);
        Console.WriteLine($"device-to-device copy: {copy:F0} GB/s");
        var results = new List<TimingResult>();
        foreach (var logit in Shapes.LogitTypes)
        foreach (var (n, c) in Shapes.MultiLabel)
        {
            // ours.json is rewritten after every shape, so a timeout keeps what was measured.
            var r = TimeMultiLabel(device, logit, n, c);
            results.Add(r);
            var kernel = LoadedKernel.Get(device, MultiLabelVariant.Program,
                MultiLabelVariant.For(logit, AslDataType.UInt8, new AslOptions(), gradient: true, statistics: false).Defines,
                "asl_multilabel", MultiLabelVariant.BlockSize);
            Console.WriteLine($"multilabel [{n}x{c}] {logit}/uint8: {r.Milliseconds * 1000:F1} us, {r.GigabytesPerSecond:F0} GB/s ({100 * r.GigabytesPerSecond / copy:F0}% of copy)" +
                              $"; {kernel.Registers} registers, {kernel.LocalBytes} B local per thread");
            Save(jsonPath, device, copy, results);
        }
        foreach (var logit in Shapes.LogitTypes)
        foreach (var (n, c) in Shapes.SingleLabel)
        {
            var r = TimeSingleLabel(device, logit, n, c);
            results.Add(r);
            var variant = SingleLabelVariant.For(logit, AslIndexType.Int64, c, new SingleLabelOptions(), gradient: true);
            variant = variant with { Layout = variant.Layout.ForRows(n, device.MultiprocessorCount) };
            var kernel = LoadedKernel.Get(device, SingleLabelVariant.Program, variant.Defines, "asl_singlelabel", variant.Layout.BlockSize);
            Console.WriteLine($"singlelabel [{n}x{c}] {logit}/int64: {r.Milliseconds * 1000:F1} us, {r.GigabytesPerSecond:F0} GB/s ({100 * r.GigabytesPerSecond / copy:F0}% of copy)" +
                              $"; {kernel.Registers} registers, {kernel.LocalBytes} B local per thread");
        }
        Save(jsonPath, device, copy, results);
        return 0;
    }

    private static void Save(string jsonPath, GpuDevice device, double copy, List<TimingResult> results) =>
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(new BenchmarkReport(device.Name, copy, results), JsonContext.Default.BenchmarkReport));

    /// <summary>The variants the timings launch, compiled (or loaded from the kernel cache) on all cores at once.</summary>
    private static string Prewarm(GpuDevice device)
    {
        var started = DateTime.UtcNow;
        var programs = Shapes.LogitTypes.SelectMany(logit =>
                Shapes.MultiLabel.Select(_ => (MultiLabelVariant.Program,
                    MultiLabelVariant.For(logit, AslDataType.UInt8, new AslOptions(), gradient: true, statistics: false).Defines))
                .Concat(Shapes.SingleLabel.Select(shape =>
                {
                    var variant = SingleLabelVariant.For(logit, AslIndexType.Int64, shape.C, new SingleLabelOptions(), gradient: true);
                    return (SingleLabelVariant.Program, (variant with { Layout = variant.Layout.ForRows(shape.N, device.MultiprocessorCount) }).Defines);
                })))
            .DistinctBy(p => p.Program.FileName + " " + string.Join(' ', p.Defines))
            .ToList();
        Parallel.ForEach(programs, p => KernelCache.Shared.Get(p.Program, p.Defines, device.ComputeCapability));
        return $"{programs.Count} timed kernel variants ready in {(DateTime.UtcNow - started).TotalSeconds:F1} s";
    }

    /// <summary>GB/s of cuMemcpyDtoD on 1 GiB, 1 MiB on an emulated device (bytes read plus bytes written).</summary>
    private static double CopyBandwidth(GpuDevice device)
    {
        long bytes = Shapes.Emulated ? 1L << 20 : 1L << 30;
        using var source = DeviceMemory.Allocate(device.Context, bytes);
        using var destination = DeviceMemory.Allocate(device.Context, bytes);
        source.Fill(1);
        double ms = MedianMilliseconds(device, () => source.CopyTo(destination), batch: 5);
        return 2.0 * bytes / (ms * 1e-3) / 1e9;
    }

    private static TimingResult TimeMultiLabel(GpuDevice device, AslDataType logit, int n, int c)
    {
        long count = (long)n * c;
        long setBytes = count * (2 * logit.SizeOf() + 1);
        int sets = (int)Math.Clamp((3 * device.L2CacheBytes + setBytes - 1) / setBytes, 1, 64);
        var buffers = new List<DeviceMemory>();
        var launches = new List<Action>();
        var options = new AslOptions();
        var loss = DeviceMemory.Allocate(device.Context, sizeof(float));
        buffers.Add(loss);
        var random = new Random(n * 31 + c);
        for (int s = 0; s < sets; s++)
        {
            var x = DeviceMemory.Allocate(device.Context, count * logit.SizeOf());
            var y = DeviceMemory.Allocate(device.Context, count);
            var g = DeviceMemory.Allocate(device.Context, count * logit.SizeOf());
            buffers.AddRange([x, y, g]);
            x.Upload<byte>(RandomLogits(random, logit, count));
            y.Upload<byte>(RandomTargets(random, count));
            launches.Add(() => MultiLabelGpu.Launch(device.Ordinal, logit, (nint)x.Pointer, AslDataType.UInt8, (nint)y.Pointer, count, options,
                (nint)g.Pointer, 0, (nint)loss.Pointer, 0));
        }
        int next = 0;
        double ms = MedianMilliseconds(device, () => launches[next++ % launches.Count](), LaunchesPerBatch);
        foreach (var b in buffers) b.Dispose();
        double moved = count * (2.0 * logit.SizeOf() + 1);
        return new TimingResult("multilabel", n, c, logit.ToString().ToLowerInvariant(), "uint8", ms, moved, moved / (ms * 1e-3) / 1e9);
    }

    private static TimingResult TimeSingleLabel(GpuDevice device, AslDataType logit, int n, int c)
    {
        long count = (long)n * c;
        long setBytes = count * 2 * logit.SizeOf() + n * sizeof(long);
        int sets = (int)Math.Clamp((3 * device.L2CacheBytes + setBytes - 1) / setBytes, 1, 64);
        var buffers = new List<DeviceMemory>();
        var launches = new List<Action>();
        var options = new SingleLabelOptions();
        var loss = DeviceMemory.Allocate(device.Context, sizeof(float));
        buffers.Add(loss);
        var random = new Random(n * 37 + c);
        for (int s = 0; s < sets; s++)
        {
            var x = DeviceMemory.Allocate(device.Context, count * logit.SizeOf());
            var t = DeviceMemory.Allocate(device.Context, n * sizeof(long));
            var g = DeviceMemory.Allocate(device.Context, count * logit.SizeOf());
            buffers.AddRange([x, t, g]);
            x.Upload<byte>(RandomLogits(random, logit, count));
            t.Upload<long>(Enumerable.Range(0, n).Select(_ => (long)random.Next(c)).ToArray());
            launches.Add(() => SingleLabelGpu.Launch(device.Ordinal, logit, (nint)x.Pointer, AslIndexType.Int64, (nint)t.Pointer, n, c, options,
                (nint)g.Pointer, 0, (nint)loss.Pointer));
        }
        int next = 0;
        double ms = MedianMilliseconds(device, () => launches[next++ % launches.Count](), LaunchesPerBatch);
        foreach (var b in buffers) b.Dispose();
        double moved = count * 2.0 * logit.SizeOf() + n * sizeof(long);
        return new TimingResult("singlelabel", n, c, logit.ToString().ToLowerInvariant(), "int64", ms, moved, moved / (ms * 1e-3) / 1e9);
    }

    /// <summary>Median over <see cref="Repeats"/> batches of the per-call time of <paramref name="work"/>, after a warm-up batch.</summary>
    internal static double MedianMilliseconds(GpuDevice device, Action work, int batch)
    {
        using var start = CudaEvent.Create(device.Context);
        using var end = CudaEvent.Create(device.Context);
        for (int i = 0; i < batch; i++) work();
        device.Synchronize();   // a fault in the warm-up surfaces here, not inside a timed batch
        var times = new double[Repeats];
        for (int r = 0; r < Repeats; r++)
        {
            start.Record();
            for (int i = 0; i < batch; i++) work();
            end.Record();
            times[r] = end.MillisecondsSince(start) / batch;
        }
        Array.Sort(times);
        return times[Repeats / 2];
    }

    /// <summary>Logits over [-12, 12] as raw bytes of the given type.</summary>
    private static byte[] RandomLogits(Random random, AslDataType type, long count)
    {
        var bytes = new byte[count * type.SizeOf()];
        for (long i = 0; i < count; i++)
        {
            float v = (float)(random.NextDouble() * 24 - 12);
            if (type == AslDataType.Float32) BitConverter.TryWriteBytes(bytes.AsSpan((int)(i * 4)), v);
            else BitConverter.TryWriteBytes(bytes.AsSpan((int)(i * 2)), ((BFloat16)v).RawValue);
        }
        return bytes;
    }

    private static byte[] RandomTargets(Random random, long count)
    {
        var bytes = new byte[count];
        for (long i = 0; i < count; i++) bytes[i] = (byte)(random.Next(10) < 3 ? 1 : 0);
        return bytes;
    }
}
