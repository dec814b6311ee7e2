using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AslCuda.Cpu;

/// <summary>
/// Fused multi-label ASL on the CPU (ASL.md section 1): one pass reads each logit and target once and
/// writes the gradient (and the per-element loss for reduction none) with float32 SIMD math.
/// The loss is accumulated in float64 per fixed-size chunk and the chunk sums are added in chunk order,
/// so the result is the same bits whatever the number of threads.
/// Numerics: p and 1 - p come from exp(-|x|), so 1 - p keeps its digits for large x (the paper code's
/// float32 1 - sigmoid(x) does not); NaN logits give NaN loss and gradient, as in PyTorch; where
/// 1 - pt == 0 with 0 &lt; gamma &lt; 1 the full gradient is infinite or NaN, as in PyTorch.
/// Targets must lie in [0, 1] (checked in the same pass).
/// </summary>
public static unsafe class MultiLabelCpu
{
    /// <summary>Elements per chunk: the unit of work of one thread and of one partial sum.</summary>
    internal const int ChunkLength = 8192;

    /// <summary>Below this many elements the pass runs on the calling thread.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>
    /// Computes the reduced loss and, when <paramref name="gradient"/> is not empty, d loss / dx for an
    /// upstream gradient of one (already divided by the element count for mean). For reduction none,
    /// <paramref name="elementLoss"/> receives each element's loss and the return value is their sum.
    /// </summary>
    public static double Compute<TLogit, TTarget>(
        ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient = default, Span<TLogit> elementLoss = default)
        where TLogit : unmanaged where TTarget : unmanaged =>
        Compute(input, target, options, gradient, elementLoss, out _, computeStatistics: false);

    /// <summary>As <see cref="Compute{TLogit,TTarget}(ReadOnlySpan{TLogit},ReadOnlySpan{TTarget},AslOptions,Span{TLogit},Span{TLogit})"/>,
    /// and also the probability statistics of adaptive asymmetry when asked for.</summary>
    public static double Compute<TLogit, TTarget>(
        ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient, Span<TLogit> elementLoss, out AslStatistics statistics, bool computeStatistics)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        ArgumentNullException.ThrowIfNull(options);
        RejectTimmTerms(options);
        if (input.Length != target.Length)
            throw new ArgumentException($"input has {input.Length} elements but target has {target.Length}.", nameof(target));
        if (!gradient.IsEmpty && gradient.Length != input.Length)
            throw new ArgumentException($"gradient has {gradient.Length} elements, expected {input.Length}.", nameof(gradient));
        if (options.Reduction == AslReduction.None && elementLoss.Length != input.Length)
            throw new ArgumentException($"reduction none needs an element loss buffer of {input.Length} elements, got {elementLoss.Length}.", nameof(elementLoss));
        fixed (TLogit* x = input)
        fixed (TTarget* y = target)
        fixed (TLogit* g = gradient)
        fixed (TLogit* l = elementLoss)
        {
            var request = new Request(x, y, gradient.IsEmpty ? null : g, options.Reduction == AslReduction.None ? l : null,
                input.Length, options, computeStatistics);
            return Run(AslDataTypes.Of<TLogit>(), AslDataTypes.Of<TTarget>(), request, out statistics);
        }
    }

    /// <summary>The fused pass does not compute timm's terms yet: refuse them rather than ignore them.</summary>
    internal static void RejectTimmTerms(AslOptions options)
    {
        if (options.HasTimmTerms)
            throw new NotSupportedException(
                "the fused multi-label backends do not compute timm's smoothing, pos_weight, per-class weight or batchmean yet; " +
                "use AslBackend.Composed (AslBackend.Auto does so) or MultiLabelReference.");
    }

    /// <summary>
    /// Pointer form for tensor bridges: <paramref name="gradient"/> and <paramref name="elementLoss"/>
    /// (reduction none only) may be null, and use the logits' element type.
    /// </summary>
    public static double Compute(AslDataType logitType, void* input, AslDataType targetType, void* target, long count,
        AslOptions options, void* gradient, void* elementLoss, out AslStatistics statistics, bool computeStatistics)
    {
        ArgumentNullException.ThrowIfNull(options);
        RejectTimmTerms(options);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckDataType(logitType, nameof(logitType));
        CheckDataType(targetType, nameof(targetType));
        if (count > 0 && input is null) throw new ArgumentNullException(nameof(input), $"input is null but count is {count}.");
        if (count > 0 && target is null) throw new ArgumentNullException(nameof(target), $"target is null but count is {count}.");
        if (options.Reduction == AslReduction.None && elementLoss is null && count > 0)
            throw new ArgumentException("reduction none needs an element loss buffer.", nameof(elementLoss));
        var request = new Request(input, target, gradient, options.Reduction == AslReduction.None ? elementLoss : null,
            count, options, computeStatistics);
        return Run(logitType, targetType, request, out statistics);
    }

    /// <summary>An undefined enum value would otherwise be read as some other element type.</summary>
    internal static void CheckDataType(AslDataType type, string name)
    {
        if (!Enum.IsDefined(type))
            throw new ArgumentOutOfRangeException(name, type, $"{name} {(int)type} is not an AslDataType (Float32, Float64, Float16, BFloat16, UInt8).");
    }

    /// <summary>
    /// The error for targets outside [0, 1]: the pass only knows that one was, so the first one is looked up here,
    /// off the hot path, for its index and value.
    /// </summary>
    private static ArgumentException InvalidTarget(AslDataType targetType, nint target, long count)
    {
        for (long i = 0; i < count; i++)
        {
            float y = targetType == AslDataType.Float32 ? ((float*)target)[i] : ((byte*)target)[i];
            if (!(y is >= 0 and <= 1))
                return new ArgumentException($"target[{i}] = {y:R} (flat index) is not in [0, 1]; targets are probabilities.", "target");
        }
        return new ArgumentException("targets must lie in [0, 1] (found a value outside it, or NaN).", "target");
    }

    private readonly struct Request(void* x, void* y, void* gradient, void* elementLoss, long count, AslOptions options, bool statistics)
    {
        public readonly nint X = (nint)x, Y = (nint)y, Gradient = (nint)gradient, ElementLoss = (nint)elementLoss;
        public readonly long Count = count;
        public readonly AslOptions Options = options;
        public readonly bool Statistics = statistics;
    }

    private static double Run(AslDataType logitType, AslDataType targetType, in Request request, out AslStatistics statistics)
    {
        if (!logitType.IsFloatingPoint())
            throw new ArgumentException($"logits must be floating point, got {logitType}.");
        if (targetType is not (AslDataType.Float32 or AslDataType.UInt8))
            throw new ArgumentException($"targets must be float32 or uint8/bool, got {targetType}.");
        return (logitType, targetType) switch
        {
            (AslDataType.Float32, AslDataType.Float32) => RunTyped<Float32Codec, Float32Codec>(request, out statistics),
            (AslDataType.Float32, _) => RunTyped<Float32Codec, UInt8Codec>(request, out statistics),
            (AslDataType.Float64, AslDataType.Float32) => RunTyped<Float64Codec, Float32Codec>(request, out statistics),
            (AslDataType.Float64, _) => RunTyped<Float64Codec, UInt8Codec>(request, out statistics),
            (AslDataType.Float16, AslDataType.Float32) => RunTyped<Float16Codec, Float32Codec>(request, out statistics),
            (AslDataType.Float16, _) => RunTyped<Float16Codec, UInt8Codec>(request, out statistics),
            (AslDataType.BFloat16, AslDataType.Float32) => RunTyped<BFloat16Codec, Float32Codec>(request, out statistics),
            _ => RunTyped<BFloat16Codec, UInt8Codec>(request, out statistics),
        };
    }

    private static double RunTyped<TX, TY>(in Request request, out AslStatistics statistics)
        where TX : IElementCodec where TY : IElementCodec
    {
        var o = request.Options;
        if (request.Gradient == 0)
            return RunMode<TX, TY, NoGradient>(request, out statistics);
        return o.DetachFocalWeight || !o.HasFocusing
            ? RunMode<TX, TY, DetachedGradient>(request, out statistics)
            : RunMode<TX, TY, FullGradient>(request, out statistics);
    }

    private static double RunMode<TX, TY, TMode>(Request request, out AslStatistics statistics)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode
    {
        long count = request.Count;
        int chunks = (int)((count + ChunkLength - 1) / ChunkLength);
        var partials = new Partial[chunks];
        var parameters = new Parameters(request.Options, count);
        if (count >= ParallelThreshold && Environment.ProcessorCount > 1)
            Parallel.For(0, chunks, c => partials[c] = RunChunk<TX, TY, TMode>(request, parameters, c));
        else
            for (int c = 0; c < chunks; c++) partials[c] = RunChunk<TX, TY, TMode>(request, parameters, c);

        double loss = 0, pPos = 0, nPos = 0, pNeg = 0, nNeg = 0;
        bool targetsValid = true;
        foreach (var partial in partials)
        {
            loss += partial.Loss;
            pPos += partial.SumPPositive; nPos += partial.CountPositive;
            pNeg += partial.SumPNegative; nNeg += partial.CountNegative;
            targetsValid &= partial.TargetsValid;
        }
        if (!targetsValid)
            throw InvalidTarget(typeof(TY) == typeof(Float32Codec) ? AslDataType.Float32 : AslDataType.UInt8, request.Y, count);
        statistics = request.Statistics ? new AslStatistics(pPos, nPos, pNeg, nNeg) : default;
        return request.Options.Reduction == AslReduction.Mean ? (count == 0 ? double.NaN : loss / count) : loss;
    }

    private struct Partial
    {
        public double Loss, SumPPositive, CountPositive, SumPNegative, CountNegative;
        public bool TargetsValid;
    }

    /// <summary>Loop invariants as vectors, built once per call.</summary>
    private readonly struct Parameters
    {
        public readonly Vector256<float> GammaPos, GammaNeg, Clip, Eps, LogEps, GradientScale, NegligibleNegativeLogit, NegligiblePositiveLogit;
        public readonly int IntGammaPos, IntGammaNeg, IntGammaPosMinusOne, IntGammaNegMinusOne;
        public readonly bool Focusing, IntegerGammas, Clipping;

        public Parameters(AslOptions o, long count)
        {
            GammaPos = Vector256.Create((float)o.GammaPos);
            GammaNeg = Vector256.Create((float)o.GammaNeg);
            Clip = Vector256.Create((float)o.Clip);
            Eps = Vector256.Create((float)o.Eps);
            LogEps = Vector256.Create((float)Math.Log(o.Eps));
            // ln(float.MinNormal) = -87.34: where p^(gamma_neg + 1) or q^(gamma_pos + 1) drops below it.
            NegligibleNegativeLogit = Vector256.Create((float)(-87.336544 / (o.GammaNeg + 1)));
            NegligiblePositiveLogit = Vector256.Create((float)(87.336544 / (o.GammaPos + 1)));
            GradientScale = Vector256.Create(o.Reduction == AslReduction.Mean && count > 0 ? (float)(1.0 / count) : 1f);
            Focusing = o.HasFocusing;
            IntegerGammas = o.HasIntegerGammas;
            IntGammaPos = (int)o.GammaPos;
            IntGammaNeg = (int)o.GammaNeg;
            IntGammaPosMinusOne = Math.Max(IntGammaPos - 1, 0);
            IntGammaNegMinusOne = Math.Max(IntGammaNeg - 1, 0);
            Clipping = o.Clip > 0;
        }
    }

    private static Partial RunChunk<TX, TY, TMode>(in Request r, in Parameters k, int chunk)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode
    {
        int sizeX = ElementSize<TX>(), sizeY = ElementSize<TY>();
        long start = (long)chunk * ChunkLength;
        long end = Math.Min(start + ChunkLength, r.Count);
        long vectors = (end - start) / Vector256<float>.Count;
        byte* g = (byte*)r.Gradient, l = (byte*)r.ElementLoss;
        var sums = new Sums();
        RunVectors<TX, TY, TMode>((byte*)r.X + start * sizeX, (byte*)r.Y + start * sizeY,
            g == null ? null : g + start * sizeX, l == null ? null : l + start * sizeX,
            vectors, k, Vector256<uint>.AllBitsSet.AsSingle(), r.Statistics, ref sums);

        long i = start + vectors * Vector256<float>.Count;
        if (i < end)
        {
            // The ragged tail goes through the same vector code on a zero-padded copy (0 is a valid logit and
            // target in every format), so every element gets the same arithmetic; padding lanes are masked
            // out of the sums and never copied back.
            int n = (int)(end - i);
            const int Bytes = 8 * sizeof(double) * 4;
            byte* buffers = stackalloc byte[Bytes];
            new Span<byte>(buffers, Bytes).Clear();
            byte* xs = buffers, ys = buffers + 64, gs = buffers + 128, ls = buffers + 192;
            Buffer.MemoryCopy((byte*)r.X + i * sizeX, xs, 64, n * sizeX);
            Buffer.MemoryCopy((byte*)r.Y + i * sizeY, ys, 64, n * sizeY);
            var live = Vector256.LessThan(Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7), Vector256.Create((float)n));
            RunVectors<TX, TY, TMode>(xs, ys, g == null ? null : gs, l == null ? null : ls, 1, k, live, r.Statistics, ref sums);
            if (g != null) Buffer.MemoryCopy(gs, g + i * sizeX, n * sizeX, n * sizeX);
            if (l != null) Buffer.MemoryCopy(ls, l + i * sizeX, n * sizeX, n * sizeX);
        }

        return new Partial
        {
            Loss = Vector256.Sum(sums.Loss),
            SumPPositive = Vector256.Sum(sums.PPositive), CountPositive = Vector256.Sum(sums.CountPositive),
            SumPNegative = Vector256.Sum(sums.PNegative), CountNegative = Vector256.Sum(sums.CountNegative),
            TargetsValid = sums.InvalidTargets.AsUInt32() == Vector256<uint>.Zero,
        };
    }

    internal static int ElementSize<T>() where T : IElementCodec =>
        typeof(T) == typeof(Float64Codec) ? 8
        : typeof(T) == typeof(Float32Codec) ? 4
        : typeof(T) == typeof(UInt8Codec) ? 1
        : 2;

    /// <summary>Running sums of one chunk, in float64 lanes; lanes that saw an invalid target set <see cref="InvalidTargets"/>.</summary>
    private struct Sums
    {
        public Vector256<double> Loss, PPositive, CountPositive, PNegative, CountNegative;
        public Vector256<float> InvalidTargets;
    }

    /// <summary>
    /// Loss, gradient and statistics of <paramref name="vectors"/> groups of eight elements: ASL.md section 1,
    /// term by term. The whole loop body lives in this one method so that the JIT keeps it in registers;
    /// lanes outside <paramref name="live"/> stay out of the sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunVectors<TX, TY, TMode>(byte* xp, byte* yp, byte* gradientOut, byte* lossOut, long vectors, in Parameters k,
        Vector256<float> live, bool statistics, ref Sums sums)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode
    {
        int sizeX = ElementSize<TX>(), sizeY = ElementSize<TY>();
        var one = Vector256<float>.One;
        var zero = Vector256<float>.Zero;
        var lossSum = sums.Loss;
        var invalid = sums.InvalidTargets;
        for (long v = 0; v < vectors; v++)
        {
            long i = v * Vector256<float>.Count;
            var x = TX.Load(xp + i * sizeX);
            var y = TY.Load(yp + i * sizeY);

            // p = 1/(1+e^-x) and q = 1 - p = 1/(1+e^x), both from e^-|x| so neither cancels.
            var ex = VectorMath.Exp(-Vector256.Abs(x));
            var r = one / (one + ex);
            var nonNegative = Vector256.GreaterThanOrEqual(x, zero);
            var pExact = Vector256.ConditionalSelect(nonNegative, r, ex * r);
            var qExact = Vector256.ConditionalSelect(nonNegative, ex * r, r);
            // A negative far below 0 (a positive far above) has a loss and gradient under float's normal range,
            // about p^(gamma_neg + 1) (q^(gamma_pos + 1)). Zeroing its small probability makes them exact zeros
            // instead of subnormal products, which take a slow path on x86 (2.4x slower passes were measured).
            var p = pExact & ~(Vector256.Equals(y, zero) & Vector256.LessThan(x, k.NegligibleNegativeLogit));
            var q = qExact & ~(Vector256.Equals(y, one) & Vector256.GreaterThan(x, k.NegligiblePositiveLogit));

            var xn = k.Clipping ? Vector256.MinNative(q + k.Clip, one) : q;
            var negY = one - y;
            // log p and log(1 - p) as log-sigmoids, min(+-x, 0) - log1p(e^-|x|): log of a p near 1 would lose
            // the digits of 1 - p. Below eps the clamp takes over, as clamp(min=eps) does.
            var softplusTail = Log1p(ex);
            var lp = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(p, k.Eps), Vector256.MinNative(x, zero) - softplusTail, k.LogEps);
            // Clipped: log(min(1 - p + clip, 1)) = log1p(min(clip - p, 0)), accurate where xn is near 1.
            var lnUnclamped = k.Clipping ? Log1p(Vector256.MinNative(k.Clip - p, zero)) : Vector256.MinNative(-x, zero) - softplusTail;
            var ln = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(xn, k.Eps), lnUnclamped, k.LogEps);
            var l0 = y * lp + negY * ln;

            // 1 - pt = y(1 - p) + (1 - y)(1 - xn), and 1 - xn = max(p - clip, 0) under clipping.
            var oneMinusXn = k.Clipping ? Vector256.MaxNative(p - k.Clip, zero) : p;
            Vector256<float> w = one, wPrime = zero, g = zero;
            if (k.Focusing)
            {
                g = k.GammaPos * y + k.GammaNeg * negY;
                // Compare as integers: all bits set is a NaN as a float, and NaN == NaN is false.
                var isPositive = Vector256.Equals(y, one);
                bool binary = k.IntegerGammas && (Vector256.Equals(y, zero) | isPositive).AsUInt32() == Vector256<uint>.AllBitsSet;
                if (binary)
                {
                    // Whole gammas and binary targets: (1 - pt)^g by multiplication, no pow.
                    w = Vector256.ConditionalSelect(isPositive, IntPow(q, k.IntGammaPos), IntPow(oneMinusXn, k.IntGammaNeg));
                    if (TMode.Full)
                        wPrime = Vector256.ConditionalSelect(isPositive, IntPow(q, k.IntGammaPosMinusOne), IntPow(oneMinusXn, k.IntGammaNegMinusOne));
                }
                else
                {
                    var (logBasisLower, logBasisUpper) = LogWidened(y * q + negY * oneMinusXn);
                    w = Pow(logBasisLower, logBasisUpper, g);
                    if (TMode.Full) wPrime = Pow(logBasisLower, logBasisUpper, g - one);
                }
            }
            // A NaN logit must give a NaN loss and gradient (as in PyTorch) even where a clamp or select hid it.
            var isNaN = ~Vector256.Equals(x, x);
            var loss = -(l0 * w) | isNaN;

            if (TMode.Enabled)
            {
                var s = p * q;                                               // dp/dx
                // clamp(max=1) passes where 1 - p + clip <= 1, i.e. p >= clip: tested on p, whose rounding is
                // far finer near the kink than that of 1 - p + clip.
                var dxn = k.Clipping ? -s & Vector256.GreaterThanOrEqual(p, k.Clip) : -s;
                var dlp = q & Vector256.GreaterThanOrEqual(p, k.Eps);
                var dln = (dxn / xn) & Vector256.GreaterThanOrEqual(xn, k.Eps);
                var d = w * (y * dlp + negY * dln);
                if (TMode.Full)
                {
                    var dpt = y * s + negY * dxn;
                    d += l0 * (~Vector256.Equals(g, zero) & -(g * wPrime * dpt));   // pow's gradient is exactly 0 where g == 0
                }
                TX.Store(gradientOut + i * sizeX, (-d * k.GradientScale) | isNaN);
            }
            if (lossOut != null) TX.Store(lossOut + i * sizeX, loss);
            lossSum = AddWidened(lossSum, loss & live);
            invalid |= InvalidTargets(y);
            if (statistics)
            {
                var yLive = y & live;
                var negYLive = negY & live;
                sums.PPositive = AddWidened(sums.PPositive, pExact * yLive);
                sums.CountPositive = AddWidened(sums.CountPositive, yLive);
                sums.PNegative = AddWidened(sums.PNegative, pExact * negYLive);
                sums.CountNegative = AddWidened(sums.CountNegative, negYLive);
            }
        }
        sums.Loss = lossSum;
        sums.InvalidTargets = invalid;
    }

    /// <summary>
    /// b^g = e^(g log b) with pow(b, 0) = 1 (also for b = 0) and pow(0, g &gt; 0) = 0. The exponent is formed in
    /// float64: in float32 its rounding error, |g log b| ulps, would show in tiny weights such as 1e-30.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pow(Vector256<double> logBasisLower, Vector256<double> logBasisUpper, Vector256<float> g)
    {
        var (gLower, gUpper) = Vector256.Widen(g);
        var power = Vector256.Narrow(Vector256.Exp(gLower * logBasisLower), Vector256.Exp(gUpper * logBasisUpper));
        return Vector256.ConditionalSelect(Vector256.Equals(g, Vector256<float>.Zero), Vector256<float>.One, power);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> Lower, Vector256<double> Upper) LogWidened(Vector256<float> v)
    {
        var (lower, upper) = Vector256.Widen(v);
        return (Vector256.Log(lower), Vector256.Log(upper));
    }

    /// <summary>log(1 + u) for u in (-1, 1], accurate for small |u| (Goldberg's trick: the rounding of 1 + u cancels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Log1p(Vector256<float> u)
    {
        var w = Vector256<float>.One + u;
        var wMinusOne = w - Vector256<float>.One;
        return Vector256.ConditionalSelect(Vector256.Equals(wMinusOne, Vector256<float>.Zero), u, VectorMath.Log(w) * (u / wMinusOne));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> IntPow(Vector256<float> basis, int exponent)
    {
        var result = Vector256<float>.One;
        for (; exponent > 0; exponent >>= 1)
        {
            if ((exponent & 1) != 0) result *= basis;
            // No square past the last bit: an unused b^(2^k) of a small b is subnormal, which costs ~100 cycles a lane.
            if (exponent > 1) basis *= basis;
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<double> AddWidened(Vector256<double> sum, Vector256<float> v)
    {
        var (lower, upper) = Vector256.Widen(v);
        return sum + lower + upper;
    }

    /// <summary>All bits set in lanes whose target is outside [0, 1] or NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> InvalidTargets(Vector256<float> y) =>
        ~(Vector256.GreaterThanOrEqual(y, Vector256<float>.Zero) & Vector256.LessThanOrEqual(y, Vector256<float>.One));
}

/// <summary>Which gradient the fused pass computes; a type parameter so the JIT drops unused code.</summary>
internal interface IGradientMode
{
    static abstract bool Enabled { get; }
    static abstract bool Full { get; }
}

internal struct NoGradient : IGradientMode
{
    public static bool Enabled => false;
    public static bool Full => false;
}

internal struct DetachedGradient : IGradientMode
{
    public static bool Enabled => true;
    public static bool Full => false;
}

internal struct FullGradient : IGradientMode
{
    public static bool Enabled => true;
    public static bool Full => true;
}
