using System.Runtime.CompilerServices;
using AslCuda.Cuda;
using AslCuda.Gpu;
using AslCuda.Reference;

namespace AslCuda.Tests.Gpu;

/// <summary>What one run of a multi-label case wrote: arrays over the whole buffers (offset included, NaN where
/// untouched), the loss and the four statistics (empty when not asked for).</summary>
public sealed record MultiLabelOutputs<T>(T[] Gradient, T[] ElementLoss, float Loss, double[] Statistics);

/// <summary>Something that runs the multi-label kernel on a case's inputs (the device: a GPU or the emulated one).</summary>
public interface IMultiLabelRunner
{
    MultiLabelOutputs<TLogit> Run<TLogit, TTarget>(MultiLabelCase c, TLogit[] x, TTarget[] y) where TLogit : unmanaged where TTarget : unmanaged;
}

/// <summary>One correctness check's outcome.</summary>
public sealed record GpuCheckResult(string Name, bool Passed, string Detail);

/// <summary>
/// One multi-label GPU check: a kernel variant (element types and options), whether the gradient and the
/// statistics are asked for, the element count and where in its buffers the data starts, and C of the
/// row-major [N, C] input where batchmean or per-class factors need it (0 otherwise).
/// </summary>
public sealed record MultiLabelCase(string Name, AslDataType Logit, AslDataType Target, AslOptions Options, bool Gradient, bool Statistics,
    long Count, int ElementOffset = 0, int Classes = 0, SoftTargets Soft = SoftTargets.Third)
{
    public override string ToString() =>
        $"{Name} {Logit}/{Target} n={Count}{(Classes > 0 ? $" C={Classes}" : "")}{(ElementOffset > 0 ? $" +{ElementOffset}" : "")}" +
        (Soft == SoftTargets.Third ? "" : $" soft={Soft}");
}

/// <summary>Where float32 targets hold soft values (uint8 targets are always 0/1).</summary>
public enum SoftTargets
{
    /// <summary>A third of the elements, anywhere: every warp of the kernel runs its soft-target body.</summary>
    Third,
    /// <summary>None: float32 targets that are all 0 or 1, so every warp votes for the binary body.</summary>
    None,
    /// <summary>A third of the elements of the first half only: warps of both kinds in one launch.</summary>
    FirstHalf,
}

/// <summary>
/// The GPU correctness checks of the multi-label kernel, NUnit-free so that the GPU check tool
/// (bench/gpu) links this file and runs the tests' cases. Each check draws random inputs from its seed,
/// poisons every output with NaN, and compares with <see cref="MultiLabelReference"/> evaluated on the
/// inputs as rounded to the logits' type: ||out - ref|| / ||ref|| within 1e-5 (float32/float64 logits) or
/// 1e-2 (float16/bfloat16).
/// </summary>
public static class MultiLabelGpuChecks
{
    /// <summary>Option sets that between them reach every compile-time switch of the kernel.</summary>
    public static readonly (string Name, AslOptions Options)[] OptionSets =
    [
        ("paper-default", new AslOptions()),
        ("coco-full-mean", new AslOptions { GammaPos = 0, GammaNeg = 4, DetachFocalWeight = false, Reduction = AslReduction.Mean }),
        ("pow-full-none", new AslOptions { GammaPos = 0.5, GammaNeg = 2.5, DetachFocalWeight = false, Reduction = AslReduction.None }),
        ("no-focusing-no-clip", new AslOptions { GammaPos = 0, GammaNeg = 0, Clip = 0 }),
        ("pow-detached-no-clip-mean", new AslOptions { GammaPos = 1.2, GammaNeg = 3.7, Clip = 0, Reduction = AslReduction.Mean }),
        ("int-full-clip-none", new AslOptions { GammaPos = 1, GammaNeg = 2, Clip = 0.1, DetachFocalWeight = false, Reduction = AslReduction.None }),
    ];

    public static readonly AslDataType[] LogitTypes = [AslDataType.Float32, AslDataType.Float64, AslDataType.Float16, AslDataType.BFloat16];
    public static readonly AslDataType[] TargetTypes = [AslDataType.Float32, AslDataType.UInt8];

    /// <summary>Every option set with every logit and target type, with and without the gradient; statistics on every other case.</summary>
    public static IEnumerable<MultiLabelCase> VariantCases(long? count = null)
    {
        long n = count ?? GpuCheckDevice.Size(100_003, 8_009);
        int index = 0;
        foreach (var (name, options) in OptionSets)
        foreach (var logit in LogitTypes)
        foreach (var target in TargetTypes)
        foreach (bool gradient in new[] { true, false })
            yield return new MultiLabelCase(gradient ? name : name + "-forward", logit, target, options, gradient, index++ % 2 == 0, n);
    }

    /// <summary>
    /// Float32 targets through the kernel's per-warp vote: all 0/1 (the binary body everywhere) and soft in the first
    /// half only (both bodies in one launch), every logit type, both gradient modes and clip on and off, at a size that
    /// leaves a ragged tail and a partial last round of packs (lanes that sit the vote's iterations out).
    /// </summary>
    public static IEnumerable<MultiLabelCase> VoteCases()
    {
        long n = GpuCheckDevice.Size(100_003, 8_009);
        int index = 0;
        foreach (var (name, options) in OptionSets.Where(o => o.Name is "paper-default" or "coco-full-mean" or "pow-full-none" or "pow-detached-no-clip-mean"))
        foreach (var logit in LogitTypes)
        foreach (var soft in new[] { SoftTargets.None, SoftTargets.FirstHalf })
            yield return new MultiLabelCase(name, logit, AslDataType.Float32, options, true, index++ % 2 == 0, n, Soft: soft);
        // A clip below eps (the kernel's ASL_CLIP=2): xn can fall under eps, where the clamp stops the gradient.
        var tinyClip = new AslOptions { Clip = 1e-9, Eps = 1e-6 };
        foreach (var target in TargetTypes)
            yield return new MultiLabelCase("clip-below-eps", AslDataType.Float32, target, tinyClip, true, true, n, Soft: SoftTargets.FirstHalf);
    }

    /// <summary>Odd sizes, a grid that the resident-block cap makes stride, and the unaligned-start path.</summary>
    public static IEnumerable<MultiLabelCase> SizeCases()
    {
        var o = new AslOptions();
        foreach (long n in new long[] { 1, 7, GpuCheckDevice.Size(1_000_003, 40_009) })
        {
            yield return new MultiLabelCase("paper-default", AslDataType.Float32, AslDataType.UInt8, o, true, true, n);
            yield return new MultiLabelCase("paper-default", AslDataType.BFloat16, AslDataType.Float32, o, true, true, n);
        }
        long unaligned = GpuCheckDevice.Size(100_003, 20_003);
        yield return new MultiLabelCase("unaligned", AslDataType.Float32, AslDataType.UInt8, o, true, true, unaligned, ElementOffset: 1);
        yield return new MultiLabelCase("unaligned", AslDataType.Float16, AslDataType.Float32, o with { Reduction = AslReduction.None }, true, false, unaligned, ElementOffset: 3);
    }

    /// <summary>
    /// AslCuda's extensions (docs/extensions.md) against the oracle: option sets that between them reach every extension switch of the
    /// kernel (smoothing, class weight, pos_weight as one value and per class) with each gamma mode, gradient mode,
    /// clip on and off and every reduction (batchmean included), for the given C (the per-class vectors have C values).
    /// </summary>
    public static (string Name, AslOptions Options)[] ExtensionOptionSets(int classes)
    {
        float[] weight = Enumerable.Range(0, classes).Select(c => 0.25f + c % 5 * 0.5f).ToArray();
        float[] posWeight = Enumerable.Range(0, classes).Select(c => 0.5f + c % 3).ToArray();
        var fullGradientBatchMean = new AslOptions { DetachFocalWeight = false, Reduction = AslReduction.BatchMean };
        return
        [
            ("ext-batchmean", fullGradientBatchMean),          // batchmean alone: the paper's kernel, scaled by 1/N
            ("ext-smoothing", fullGradientBatchMean with { Smoothing = 0.1 }),
            ("ext-pos-weight-one-detached-sum", new AslOptions { PosWeight = new[] { 2.5f } }),
            ("ext-per-class-pow-full-none", new AslOptions { GammaPos = 0.5, GammaNeg = 2.5, DetachFocalWeight = false,
                Reduction = AslReduction.None, ClassWeight = weight, PosWeight = posWeight }),
            ("ext-all-no-clip-mean", new AslOptions { GammaPos = 1, GammaNeg = 3, Clip = 0, Smoothing = 0.2, ClassWeight = weight,
                PosWeight = new[] { 1.5f }, Reduction = AslReduction.Mean }),
            ("ext-all-int-full-batchmean", fullGradientBatchMean with { Smoothing = 0.05, ClassWeight = weight, PosWeight = posWeight }),
            ("ext-weight-smoothing-no-focusing", new AslOptions { GammaPos = 0, GammaNeg = 0, Smoothing = 0.3, ClassWeight = weight }),
        ];
    }

    /// <summary>
    /// Every timm option set with every logit and target type and the gradient, on [N, C] with C = 37 (no multiple of
    /// any vector width, so packs straddle rows) and N*C not a multiple of the widest pack (a ragged tail); each set
    /// also once forward only. Statistics on every other case (they stay on the raw labels).
    /// </summary>
    public static IEnumerable<MultiLabelCase> ExtensionCases(int rows = 53, int classes = 37)
    {
        int index = 0;
        foreach (var (name, options) in ExtensionOptionSets(classes))
        {
            foreach (var logit in LogitTypes)
            foreach (var target in TargetTypes)
                yield return new MultiLabelCase(name, logit, target, options, true, index++ % 2 == 0, (long)rows * classes, Classes: classes);
            yield return new MultiLabelCase(name + "-forward", AslDataType.Float32, AslDataType.Float32, options, false, true, (long)rows * classes,
                Classes: classes);
        }
    }

    /// <summary>
    /// AslCuda's extensions at odd shapes: one class (C below every vector width), fewer elements than one pack, C = 7 against
    /// packs of 8 with the unaligned (scalar) path, and a wide row (OpenImages' 9605 classes) over many blocks.
    /// </summary>
    public static IEnumerable<MultiLabelCase> ExtensionSizeCases()
    {
        var all = ExtensionOptionSets(1)[5].Options;
        yield return new MultiLabelCase("ext-one-class", AslDataType.Float32, AslDataType.UInt8, all, true, true, 13, Classes: 1);
        yield return new MultiLabelCase("ext-one-class", AslDataType.BFloat16, AslDataType.Float32, all, true, false, 29, Classes: 1);
        yield return new MultiLabelCase("ext-below-one-pack", AslDataType.Float16, AslDataType.UInt8, ExtensionOptionSets(3)[3].Options, true, true, 3, Classes: 3);
        yield return new MultiLabelCase("ext-unaligned", AslDataType.Float16, AslDataType.Float32, ExtensionOptionSets(7)[5].Options, true, true, 7 * 301,
            ElementOffset: 3, Classes: 7);
        yield return new MultiLabelCase("ext-unaligned", AslDataType.Float32, AslDataType.UInt8, ExtensionOptionSets(7)[3].Options, true, false, 7 * 301,
            ElementOffset: 1, Classes: 7);
        long rows = GpuCheckDevice.Size(211, 3);
        yield return new MultiLabelCase("ext-openimages", AslDataType.BFloat16, AslDataType.UInt8, ExtensionOptionSets(9605)[5].Options, true, true,
            rows * 9605, Classes: 9605);
    }

    /// <summary>At least 2^27 elements (hardware only, see <see cref="GpuCheckDevice"/>).</summary>
    public static MultiLabelCase LargeCase() =>
        new("large", AslDataType.Float32, AslDataType.UInt8, new AslOptions(), true, true, (1L << 27) + 3);

    /// <summary>AslCuda's extensions on more than 2^27 elements, [14000, 9605]: a grid that strides many times, so the kernel's
    /// column carried through the grid-stride loop is checked far from its start (hardware only).</summary>
    public static MultiLabelCase LargeExtensionCase() =>
        new("large-extensions", AslDataType.Float32, AslDataType.Float32, ExtensionOptionSets(9605)[5].Options, true, true, 14_000L * 9605, Classes: 9605);

    /// <summary>Runs the case on device 0 (or through <paramref name="runner"/>) and compares with the oracle.</summary>
    public static GpuCheckResult Check(MultiLabelCase c, int seed = 1, IMultiLabelRunner? runner = null) =>
        Dispatch(c, seed, repeat: false, runner ?? new DeviceMultiLabelRunner());

    /// <summary>Runs the case twice on the same inputs and requires bit-identical loss, statistics and outputs.</summary>
    public static GpuCheckResult CheckDeterminism(MultiLabelCase c, int seed = 1) => Dispatch(c, seed, repeat: true, new DeviceMultiLabelRunner());

    private static GpuCheckResult Dispatch(MultiLabelCase c, int seed, bool repeat, IMultiLabelRunner runner) => (c.Logit, c.Target) switch
    {
        (AslDataType.Float32, AslDataType.Float32) => Run<float, float>(c, seed, repeat, runner),
        (AslDataType.Float32, _) => Run<float, byte>(c, seed, repeat, runner),
        (AslDataType.Float64, AslDataType.Float32) => Run<double, float>(c, seed, repeat, runner),
        (AslDataType.Float64, _) => Run<double, byte>(c, seed, repeat, runner),
        (AslDataType.Float16, AslDataType.Float32) => Run<Half, float>(c, seed, repeat, runner),
        (AslDataType.Float16, _) => Run<Half, byte>(c, seed, repeat, runner),
        (AslDataType.BFloat16, AslDataType.Float32) => Run<BFloat16, float>(c, seed, repeat, runner),
        _ => Run<BFloat16, byte>(c, seed, repeat, runner),
    };

    private static GpuCheckResult Run<TLogit, TTarget>(MultiLabelCase c, int seed, bool repeat, IMultiLabelRunner runner)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        string name = (repeat ? "determinism " : "") + c;
        long total = c.Count + c.ElementOffset;
        var x = new TLogit[total];
        var y = new TTarget[total];
        Fill(x, y, seed, c.Options.Clip, c.Soft);

        var first = runner.Run(c, x, y);
        if (repeat)
        {
            var second = runner.Run(c, x, y);
            bool same = BitConverter.SingleToInt32Bits(first.Loss) == BitConverter.SingleToInt32Bits(second.Loss)
                        && first.Statistics.AsSpan().SequenceEqual(second.Statistics)
                        && Bytes(first.Gradient).SequenceEqual(Bytes(second.Gradient))
                        && Bytes(first.ElementLoss).SequenceEqual(Bytes(second.ElementLoss));
            return new GpuCheckResult(name, same, same ? $"loss {first.Loss:R} twice" : $"loss {first.Loss:R} then {second.Loss:R}, or outputs differ");
        }
        return Compare(c, name, x, y, first);
    }

    /// <summary>Runs cases through <see cref="MultiLabelGpu.Launch"/> on device 0.</summary>
    private sealed class DeviceMultiLabelRunner : IMultiLabelRunner
    {
        public MultiLabelOutputs<TLogit> Run<TLogit, TTarget>(MultiLabelCase c, TLogit[] x, TTarget[] y)
            where TLogit : unmanaged where TTarget : unmanaged
        {
            var context = GpuDevice.Get(0).Context;
            long total = x.Length;
            bool none = c.Options.Reduction == AslReduction.None;
            using var xs = DeviceMemory.Allocate(context, total * Unsafe.SizeOf<TLogit>());
            using var ys = DeviceMemory.Allocate(context, total * Unsafe.SizeOf<TTarget>());
            using var gradient = c.Gradient ? DeviceMemory.Allocate(context, total * Unsafe.SizeOf<TLogit>()) : null;
            using var elementLoss = none ? DeviceMemory.Allocate(context, total * Unsafe.SizeOf<TLogit>()) : null;
            using var loss = DeviceMemory.Allocate(context, sizeof(float));
            using var statistics = c.Statistics ? DeviceMemory.Allocate(context, 4 * sizeof(double)) : null;
            xs.Upload<TLogit>(x);
            ys.Upload<TTarget>(y);
            foreach (var output in new[] { gradient, elementLoss, loss, statistics }) output?.Fill(0xFF);   // all NaN

            nint At(DeviceMemory? m, int elementSize) => m is null ? 0 : (nint)(m.Pointer + (ulong)(c.ElementOffset * elementSize));
            MultiLabelGpu.Launch(0, c.Logit, At(xs, Unsafe.SizeOf<TLogit>()), c.Target, At(ys, Unsafe.SizeOf<TTarget>()), c.Count, c.Options,
                At(gradient, Unsafe.SizeOf<TLogit>()), At(elementLoss, Unsafe.SizeOf<TLogit>()), (nint)loss.Pointer, (nint)(statistics?.Pointer ?? 0),
                c.Classes);

            var g = new TLogit[c.Gradient ? total : 0];
            var l = new TLogit[none ? total : 0];
            gradient?.Download<TLogit>(g);
            elementLoss?.Download<TLogit>(l);
            var s = new double[c.Statistics ? 4 : 0];
            statistics?.Download<double>(s);
            var result = new float[1];
            loss.Download<float>(result);
            return new MultiLabelOutputs<TLogit>(g, l, result[0], s);
        }
    }

    private static GpuCheckResult Compare<TLogit, TTarget>(MultiLabelCase c, string name, TLogit[] x, TTarget[] y, MultiLabelOutputs<TLogit> out_)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        var o = c.Options;
        double tolerance = c.Logit is AslDataType.Float16 or AslDataType.BFloat16 ? 1e-2 : 1e-5;
        double scale = o.Reduction switch
        {
            AslReduction.Mean => 1.0 / c.Count,
            AslReduction.BatchMean => (double)c.Classes / c.Count,
            _ => 1.0,
        };
        const int chunk = 1 << 16;
        int chunks = (int)((c.Count + chunk - 1) / chunk);
        var sums = new double[chunks, 11];
        Parallel.For(0, chunks, k =>
        {
            long begin = c.ElementOffset + (long)k * chunk, end = Math.Min(begin + chunk, c.ElementOffset + c.Count);
            for (long i = begin; i < end; i++)
            {
                double xi = ToDouble(x[i]), yi = ToDouble(y[i]);
                int column = c.Classes > 0 ? (int)((i - c.ElementOffset) % c.Classes) : 0;
                double loss = MultiLabelReference.ElementLoss(xi, yi, o, column);
                sums[k, 0] += loss;
                if (c.Gradient)
                {
                    double reference = scale * MultiLabelReference.ElementGradient(xi, yi, o, column);
                    double d = ToDouble(out_.Gradient[i]) - reference;
                    sums[k, 1] += d * d;
                    sums[k, 2] += reference * reference;
                }
                if (o.Reduction == AslReduction.None)
                {
                    double d = ToDouble(out_.ElementLoss[i]) - loss;
                    sums[k, 3] += d * d;
                    sums[k, 4] += loss * loss;
                }
                double p = 1 / (1 + Math.Exp(-xi));
                sums[k, 5] += p * yi;
                sums[k, 6] += yi;
                sums[k, 7] += p * (1 - yi);
                sums[k, 8] += 1 - yi;
            }
            // Offset elements before the data must stay untouched (still NaN).
            if (k == 0)
                for (int i = 0; i < c.ElementOffset; i++)
                    sums[k, 9] += (c.Gradient && !double.IsNaN(ToDouble(out_.Gradient[i]))) || (o.Reduction == AslReduction.None && !double.IsNaN(ToDouble(out_.ElementLoss[i]))) ? 1 : 0;
        });
        double Total(int column) { double t = 0; for (int k = 0; k < chunks; k++) t += sums[k, column]; return t; }

        var failures = new List<string>();
        var details = new List<string>();
        double lossReference = o.Reduction == AslReduction.None ? Total(0) : Total(0) * scale;
        Report("loss", RelativeError(Math.Pow(out_.Loss - lossReference, 2), lossReference * lossReference), $"{out_.Loss:R} vs {lossReference:R}");
        if (c.Gradient) Report("gradient", RelativeError(Total(1), Total(2)), "");
        if (o.Reduction == AslReduction.None) Report("element loss", RelativeError(Total(3), Total(4)), "");
        if (c.Statistics)
            for (int s = 0; s < 4; s++)
            {
                double reference = Total(5 + s);
                double error = Math.Abs(out_.Statistics[s] - reference) / Math.Max(Math.Abs(reference), 1);
                if (!(error <= 1e-5)) failures.Add($"statistic {s}: {out_.Statistics[s]:R} vs {reference:R}");
            }
        if (Total(9) > 0) failures.Add("wrote before the start of its buffers");
        return new GpuCheckResult(name, failures.Count == 0, string.Join("; ", failures.Count == 0 ? details : failures));

        void Report(string what, double error, string extra)
        {
            string text = $"{what} rel err {error:E2}{(extra.Length > 0 ? $" ({extra})" : "")}";
            details.Add(text);
            if (!(error <= tolerance)) failures.Add(text + $" > {tolerance:E0}");
        }
    }

    /// <summary>Logits over [-12, 12] with a few +-30, +-100 and zeros, none within 1e-3 of the clip kink (p = clip,
    /// where the gradient jumps and float32 and float64 may land on different sides); targets binary, or for
    /// float targets soft values in [0, 1] where <paramref name="soft"/> says.</summary>
    private static void Fill<TLogit, TTarget>(TLogit[] x, TTarget[] y, int seed, double clip, SoftTargets soft) where TLogit : unmanaged where TTarget : unmanaged
    {
        double[] extremes = [30, -30, 100, -100, 0];
        double kink = clip > 0 ? Math.Log(clip / (1 - clip)) : double.NaN;
        const int chunk = 1 << 16;
        Parallel.For(0, (x.Length + chunk - 1) / chunk, k =>
        {
            var random = new Random(seed * 7919 + k);
            for (int i = k * chunk; i < Math.Min(x.Length, (k + 1) * chunk); i++)
            {
                double v;
                do v = random.Next(1000) == 0 ? extremes[random.Next(extremes.Length)] : random.NextDouble() * 24 - 12;
                while (Math.Abs(v - kink) < 1e-3);
                x[i] = FromDouble<TLogit>(v);
                double t = random.NextDouble() < 0.3 ? 1 : 0;
                bool mayBeSoft = soft == SoftTargets.Third || (soft == SoftTargets.FirstHalf && i < x.Length / 2);
                if (typeof(TTarget) == typeof(float) && random.Next(3) == 0 && mayBeSoft) t = random.NextDouble();
                y[i] = FromDouble<TTarget>(t);
            }
        });
    }

    private static ReadOnlySpan<byte> Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());

    internal static double ToDouble<T>(T v) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref v)
        : typeof(T) == typeof(double) ? Unsafe.As<T, double>(ref v)
        : typeof(T) == typeof(Half) ? (double)Unsafe.As<T, Half>(ref v)
        : typeof(T) == typeof(BFloat16) ? (float)Unsafe.As<T, BFloat16>(ref v)
        : typeof(T) == typeof(byte) ? Unsafe.As<T, byte>(ref v)
        : throw new NotSupportedException(typeof(T).Name);

    internal static T FromDouble<T>(double v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) { float f = (float)v; return Unsafe.As<float, T>(ref f); }
        if (typeof(T) == typeof(double)) return Unsafe.As<double, T>(ref v);
        if (typeof(T) == typeof(Half)) { var h = (Half)v; return Unsafe.As<Half, T>(ref h); }
        if (typeof(T) == typeof(BFloat16)) { var b = (BFloat16)(float)v; return Unsafe.As<BFloat16, T>(ref b); }
        if (typeof(T) == typeof(byte)) { byte b = (byte)v; return Unsafe.As<byte, T>(ref b); }
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>||out - ref|| / ||ref|| from the squared sums; where the reference is exactly zero (a one-class row,
    /// a loss of 0) the absolute error ||out||, so exact zeros pass and anything else fails instead of 0/0 = NaN.</summary>
    internal static double RelativeError(double errorSquared, double referenceSquared) =>
        referenceSquared > 0 ? Math.Sqrt(errorSquared / referenceSquared) : Math.Sqrt(errorSquared);

    /// <summary>The library and device this process runs on, for the checks' report.</summary>
    public static string DescribeEnvironment() => CudaDevice.Describe() + System.Environment.NewLine + $"NVRTC path override: {System.Environment.GetEnvironmentVariable(NativeLibraries.Nvrtc.OverrideVariable) ?? "(none)"}";
}
