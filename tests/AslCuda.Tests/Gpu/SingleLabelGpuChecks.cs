using System.Runtime.CompilerServices;
using AslCuda.Cuda;
using AslCuda.Gpu;
using AslCuda.Reference;

namespace AslCuda.Tests.Gpu;

/// <summary>What one run of a single-label case wrote (NaN where untouched) and the loss.</summary>
public sealed record SingleLabelOutputs<T>(T[] Gradient, T[] RowLoss, float Loss);

/// <summary>Something that runs the single-label kernel on a case's inputs (the device: a GPU or the emulated one).</summary>
public interface ISingleLabelRunner
{
    SingleLabelOutputs<TLogit> Run<TLogit, TIndex>(SingleLabelCase c, TLogit[] x, TIndex[] t) where TLogit : unmanaged where TIndex : unmanaged;
}

/// <summary>One single-label GPU check: element types, options, whether the gradient is asked for, the shape,
/// and how many rows get an out-of-range target.</summary>
public sealed record SingleLabelCase(string Name, AslDataType Logit, AslIndexType Target, SingleLabelOptions Options, bool Gradient,
    long Rows, int Classes, int BadTargets = 0)
{
    public override string ToString() => $"{Name} {Logit}/{Target} [{Rows}x{Classes}]{(BadTargets > 0 ? $" {BadTargets} bad targets" : "")}";
}

/// <summary>
/// The GPU correctness checks of the single-label kernel, NUnit-free so that the GPU check tool links this
/// file too. Random inputs from the check's seed, NaN-poisoned outputs, comparison with <see cref="SingleLabelReference"/>
/// on the inputs as rounded to the logits' type: ||out - ref|| / ||ref|| within 1e-5 (float32/float64) or
/// 1e-2 (float16/bfloat16). Rows with an out-of-range target must come back NaN, the others exact.
/// </summary>
public static class SingleLabelGpuChecks
{
    public static readonly (string Name, SingleLabelOptions Options)[] OptionSets =
    [
        ("paper-default", new SingleLabelOptions()),
        ("pow-none", new SingleLabelOptions { GammaPos = 0.5, GammaNeg = 2.5, Reduction = AslReduction.None }),
        ("int-sum-no-smoothing", new SingleLabelOptions { GammaPos = 1, GammaNeg = 2, Eps = 0, Reduction = AslReduction.Sum }),
    ];

    /// <summary>Class counts that reach each row layout: a warp with 1 and 32 columns per lane, a 256-thread block, a 512-thread block.</summary>
    public static readonly int[] ClassCounts = [7, 1000, 2049, 21843];

    public static IEnumerable<SingleLabelCase> VariantCases()
    {
        int index = 0;
        foreach (var (name, options) in OptionSets)
        foreach (int classes in ClassCounts)
        foreach (var logit in MultiLabelGpuChecks.LogitTypes)
        foreach (var target in new[] { AslIndexType.Int64, AslIndexType.Int32 })
        {
            bool gradient = index++ % 3 != 2;
            yield return new SingleLabelCase(gradient ? name : name + "-forward", logit, target, options, gradient,
                Math.Max(GpuCheckDevice.Size(1, 5), GpuCheckDevice.Size(200_000, 2_000) / classes) | 1, classes);
        }
    }

    /// <summary>
    /// One case per option set and class count (so every row layout), the logit and index types taken in turn: 12
    /// of <see cref="VariantCases"/>' 96. The GPU check runs these on an emulated device, where the tests already run
    /// the whole matrix and one 285x7 case costs seconds of CPU thread switching.
    /// </summary>
    public static IEnumerable<SingleLabelCase> LayoutCases()
    {
        var all = VariantCases().ToList();
        int perClassCount = MultiLabelGpuChecks.LogitTypes.Length * 2;
        int turn = 0;
        // Stepping 3 (coprime with the 8 type pairs) walks through every pair, and the forward-only cases (every
        // third case of VariantCases) come up too.
        for (int start = 0; start < all.Count; start += perClassCount, turn++)
            yield return all[start + 3 * turn % perClassCount];
    }

    /// <summary>One row, one class, odd row counts, out-of-range targets, the most classes.</summary>
    public static IEnumerable<SingleLabelCase> SizeCases()
    {
        var o = new SingleLabelOptions();
        yield return new SingleLabelCase("one-row", AslDataType.Float32, AslIndexType.Int64, o, true, 1, 1000);
        yield return new SingleLabelCase("one-class", AslDataType.Float32, AslIndexType.Int64, o, true, 7, 1);
        yield return new SingleLabelCase("odd-rows", AslDataType.BFloat16, AslIndexType.Int64, o, true, GpuCheckDevice.Size(100_003, 1_003), 80);
        yield return new SingleLabelCase("bad-targets", AslDataType.Float32, AslIndexType.Int64, o with { Reduction = AslReduction.None }, true,
            GpuCheckDevice.Size(1001, 201), 1000, BadTargets: 3);
        yield return new SingleLabelCase("bad-targets", AslDataType.Float16, AslIndexType.Int32, o, true, GpuCheckDevice.Size(333, 9), 21843, BadTargets: 2);
        yield return new SingleLabelCase("max-classes", AslDataType.Float32, AslIndexType.Int64, o, true, GpuCheckDevice.Size(64, 5), SingleLabelLayout.MaxClasses);
    }

    /// <summary>At least 2^27 elements (hardware only, see <see cref="GpuCheckDevice"/>).</summary>
    public static SingleLabelCase LargeCase() => new("large", AslDataType.Float32, AslIndexType.Int64, new SingleLabelOptions(), true, 6145, 21843);

    /// <summary>Runs the case on device 0 (or through <paramref name="runner"/>) and compares with the oracle.</summary>
    public static GpuCheckResult Check(SingleLabelCase c, int seed = 1, ISingleLabelRunner? runner = null) =>
        Dispatch(c, seed, repeat: false, runner ?? new DeviceSingleLabelRunner());

    /// <summary>Runs the case twice on the same inputs and requires bit-identical loss and outputs.</summary>
    public static GpuCheckResult CheckDeterminism(SingleLabelCase c, int seed = 1) => Dispatch(c, seed, repeat: true, new DeviceSingleLabelRunner());

    private static GpuCheckResult Dispatch(SingleLabelCase c, int seed, bool repeat, ISingleLabelRunner runner) => (c.Logit, c.Target) switch
    {
        (AslDataType.Float32, AslIndexType.Int64) => Run<float, long>(c, seed, repeat, runner),
        (AslDataType.Float32, _) => Run<float, int>(c, seed, repeat, runner),
        (AslDataType.Float64, AslIndexType.Int64) => Run<double, long>(c, seed, repeat, runner),
        (AslDataType.Float64, _) => Run<double, int>(c, seed, repeat, runner),
        (AslDataType.Float16, AslIndexType.Int64) => Run<Half, long>(c, seed, repeat, runner),
        (AslDataType.Float16, _) => Run<Half, int>(c, seed, repeat, runner),
        (AslDataType.BFloat16, AslIndexType.Int64) => Run<BFloat16, long>(c, seed, repeat, runner),
        _ => Run<BFloat16, int>(c, seed, repeat, runner),
    };

    private static GpuCheckResult Run<TLogit, TIndex>(SingleLabelCase c, int seed, bool repeat, ISingleLabelRunner runner)
        where TLogit : unmanaged where TIndex : unmanaged
    {
        string name = (repeat ? "determinism " : "") + c;
        var x = new TLogit[c.Rows * c.Classes];
        var t = new TIndex[c.Rows];
        var bad = Fill(c, x, t, seed);
        var first = runner.Run(c, x, t);
        if (!repeat) return Compare(c, name, x, t, bad, first);
        var second = runner.Run(c, x, t);
        bool same = BitConverter.SingleToInt32Bits(first.Loss) == BitConverter.SingleToInt32Bits(second.Loss)
                    && Bytes(first.Gradient).SequenceEqual(Bytes(second.Gradient)) && Bytes(first.RowLoss).SequenceEqual(Bytes(second.RowLoss));
        return new GpuCheckResult(name, same, same ? $"loss {first.Loss:R} twice" : $"loss {first.Loss:R} then {second.Loss:R}, or outputs differ");
    }

    /// <summary>Runs cases through <see cref="SingleLabelGpu.Launch"/> on device 0.</summary>
    private sealed class DeviceSingleLabelRunner : ISingleLabelRunner
    {
        public SingleLabelOutputs<TLogit> Run<TLogit, TIndex>(SingleLabelCase c, TLogit[] x, TIndex[] t)
            where TLogit : unmanaged where TIndex : unmanaged
        {
            var context = GpuDevice.Get(0).Context;
            bool none = c.Options.Reduction == AslReduction.None;
            using var xs = DeviceMemory.Allocate(context, x.LongLength * Unsafe.SizeOf<TLogit>());
            using var ts = DeviceMemory.Allocate(context, t.LongLength * Unsafe.SizeOf<TIndex>());
            using var gradient = c.Gradient ? DeviceMemory.Allocate(context, x.LongLength * Unsafe.SizeOf<TLogit>()) : null;
            using var rowLoss = none ? DeviceMemory.Allocate(context, c.Rows * Unsafe.SizeOf<TLogit>()) : null;
            using var loss = DeviceMemory.Allocate(context, sizeof(float));
            xs.Upload<TLogit>(x);
            ts.Upload<TIndex>(t);
            foreach (var output in new[] { gradient, rowLoss, loss }) output?.Fill(0xFF);   // all NaN

            SingleLabelGpu.Launch(0, c.Logit, (nint)xs.Pointer, c.Target, (nint)ts.Pointer, c.Rows, c.Classes, c.Options,
                (nint)(gradient?.Pointer ?? 0), (nint)(rowLoss?.Pointer ?? 0), (nint)loss.Pointer);

            var g = new TLogit[c.Gradient ? x.LongLength : 0];
            var l = new TLogit[none ? c.Rows : 0];
            gradient?.Download<TLogit>(g);
            rowLoss?.Download<TLogit>(l);
            var result = new float[1];
            loss.Download<float>(result);
            return new SingleLabelOutputs<TLogit>(g, l, result[0]);
        }
    }

    private static GpuCheckResult Compare<TLogit, TIndex>(SingleLabelCase c, string name, TLogit[] x, TIndex[] t, HashSet<long> bad, SingleLabelOutputs<TLogit> out_)
        where TLogit : unmanaged where TIndex : unmanaged
    {
        var o = c.Options;
        double tolerance = c.Logit is AslDataType.Float16 or AslDataType.BFloat16 ? 1e-2 : 1e-5;
        double scale = o.Reduction == AslReduction.Mean ? 1.0 / c.Rows : 1.0;
        bool none = o.Reduction == AslReduction.None;
        var sums = new double[c.Rows, 6];
        Parallel.For(0, c.Rows, () => (new double[c.Classes], new double[c.Classes]), (r, _, buffers) =>
        {
            var (row, gradient) = buffers;
            long offset = r * c.Classes;
            if (bad.Contains(r))
            {
                // Out-of-range target: NaN loss and gradient for the whole row.
                bool nan = (!none || double.IsNaN(MultiLabelGpuChecks.ToDouble(out_.RowLoss[r])))
                           && (!c.Gradient || Enumerable.Range(0, c.Classes).All(k => double.IsNaN(MultiLabelGpuChecks.ToDouble(out_.Gradient[offset + k]))));
                sums[r, 5] = nan ? 0 : 1;
                return buffers;
            }
            for (int k = 0; k < c.Classes; k++) row[k] = MultiLabelGpuChecks.ToDouble(x[offset + k]);
            long target = ToLong(t[r]);
            double loss = SingleLabelReference.RowLoss(row, target, o);
            sums[r, 0] = loss;
            if (none)
            {
                double d = MultiLabelGpuChecks.ToDouble(out_.RowLoss[r]) - loss;
                sums[r, 3] = d * d;
                sums[r, 4] = loss * loss;
            }
            if (c.Gradient)
            {
                SingleLabelReference.RowGradient(row, target, o, gradient);
                for (int k = 0; k < c.Classes; k++)
                {
                    double reference = scale * gradient[k];
                    double d = MultiLabelGpuChecks.ToDouble(out_.Gradient[offset + k]) - reference;
                    sums[r, 1] += d * d;
                    sums[r, 2] += reference * reference;
                }
            }
            return buffers;
        }, _ => { });
        double Total(int column) { double s = 0; for (long r = 0; r < c.Rows; r++) s += sums[r, column]; return s; }

        var failures = new List<string>();
        var details = new List<string>();
        if (bad.Count > 0)
        {
            if (Total(5) > 0) failures.Add($"{Total(5)} rows with a bad target are not NaN");
            if (!float.IsNaN(out_.Loss)) failures.Add($"loss {out_.Loss} is not NaN despite bad targets");
            details.Add($"{bad.Count} bad-target rows NaN");
        }
        else
        {
            double lossReference = o.Reduction == AslReduction.Mean ? Total(0) / c.Rows : Total(0);
            Report("loss", MultiLabelGpuChecks.RelativeError(Math.Pow(out_.Loss - lossReference, 2), lossReference * lossReference),
                $"{out_.Loss:R} vs {lossReference:R}");
        }
        if (c.Gradient) Report("gradient", MultiLabelGpuChecks.RelativeError(Total(1), Total(2)), "");
        if (none) Report("row loss", MultiLabelGpuChecks.RelativeError(Total(3), Total(4)), "");
        return new GpuCheckResult(name, failures.Count == 0, string.Join("; ", failures.Count == 0 ? details : failures));

        void Report(string what, double error, string extra)
        {
            string text = $"{what} rel err {error:E2}{(extra.Length > 0 ? $" ({extra})" : "")}";
            details.Add(text);
            if (!(error <= tolerance)) failures.Add(text + $" > {tolerance:E0}");
        }
    }

    /// <summary>Logits over [-12, 12] (a few rows made confident by +30 on the target), uniform targets; the
    /// first BadTargets rows at random get C or -1. Returns the bad rows.</summary>
    private static HashSet<long> Fill<TLogit, TIndex>(SingleLabelCase c, TLogit[] x, TIndex[] t, int seed)
        where TLogit : unmanaged where TIndex : unmanaged
    {
        var random = new Random(seed);
        var bad = new HashSet<long>();
        while (bad.Count < c.BadTargets) bad.Add(random.NextInt64(c.Rows));
        var targets = new long[c.Rows];
        for (long r = 0; r < c.Rows; r++)
            targets[r] = bad.Contains(r) ? (r % 2 == 0 ? c.Classes : -1) : random.Next(c.Classes);
        Parallel.For(0, c.Rows, r =>
        {
            var rowRandom = new Random(seed * 7919 + (int)r);
            long offset = r * c.Classes;
            for (int k = 0; k < c.Classes; k++)
            {
                double v = rowRandom.NextDouble() * 24 - 12;
                if (k == targets[r] && r % 10 == 0) v += 30;
                x[offset + k] = MultiLabelGpuChecks.FromDouble<TLogit>(v);
            }
            t[r] = FromLong<TIndex>(targets[r]);
        });
        return bad;
    }

    private static T FromLong<T>(long v) where T : unmanaged
    {
        if (typeof(T) == typeof(long)) return Unsafe.As<long, T>(ref v);
        int i = (int)v;
        return Unsafe.As<int, T>(ref i);
    }

    private static long ToLong<T>(T v) where T : unmanaged =>
        typeof(T) == typeof(long) ? Unsafe.As<T, long>(ref v) : Unsafe.As<T, int>(ref v);

    private static ReadOnlySpan<byte> Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
}
