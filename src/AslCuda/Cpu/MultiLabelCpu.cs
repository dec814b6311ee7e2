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

    /// <summary>
    /// Pointer form for tensor bridges: <paramref name="gradient"/> and <paramref name="elementLoss"/>
    /// (reduction none only) may be null, and use the logits' element type.
    /// </summary>
    public static double Compute(AslDataType logitType, void* input, AslDataType targetType, void* target, long count,
        AslOptions options, void* gradient, void* elementLoss, out AslStatistics statistics, bool computeStatistics)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (options.Reduction == AslReduction.None && elementLoss is null && count > 0)
            throw new ArgumentException("reduction none needs an element loss buffer.", nameof(elementLoss));
        var request = new Request(input, target, gradient, options.Reduction == AslReduction.None ? elementLoss : null,
            count, options, computeStatistics);
        return Run(logitType, targetType, request, out statistics);
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
            throw new ArgumentException("targets must lie in [0, 1] (found a value outside it, or NaN).", "target");
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
        public readonly Vector256<float> GammaPos, GammaNeg, Clip, Eps, LogEps, GradientScale;
        public readonly int IntGammaPos, IntGammaNeg;
        public readonly bool Focusing, IntegerGammas, Clipping;

        public Parameters(AslOptions o, long count)
        {
            GammaPos = Vector256.Create((float)o.GammaPos);
            GammaNeg = Vector256.Create((float)o.GammaNeg);
            Clip = Vector256.Create((float)o.Clip);
            Eps = Vector256.Create((float)o.Eps);
            LogEps = Vector256.Create((float)Math.Log(o.Eps));
            GradientScale = Vector256.Create(o.Reduction == AslReduction.Mean && count > 0 ? (float)(1.0 / count) : 1f);
            Focusing = o.HasFocusing;
            IntegerGammas = o.HasIntegerGammas;
            IntGammaPos = (int)o.GammaPos;
            IntGammaNeg = (int)o.GammaNeg;
            Clipping = o.Clip > 0;
        }
    }

    // Fully optimized from the first call: a loss is often called a handful of times per process.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Partial RunChunk<TX, TY, TMode>(in Request r, in Parameters k, int chunk)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode
    {
        int sizeX = ElementSize<TX>();
        int sizeY = ElementSize<TY>();
        long start = (long)chunk * ChunkLength;
        long end = Math.Min(start + ChunkLength, r.Count);
        var lossSum = Vector256<double>.Zero;
        var stats = new StatisticsAccumulator();
        var invalid = Vector256<float>.Zero;
        bool wantStatistics = r.Statistics;
        byte* x = (byte*)r.X, y = (byte*)r.Y, g = (byte*)r.Gradient, l = (byte*)r.ElementLoss;

        long i = start;
        for (; i + Vector256<float>.Count <= end; i += Vector256<float>.Count)
        {
            var xv = TX.Load(x + i * sizeX);
            var yv = TY.Load(y + i * sizeY);
            var e = Element<TMode>(xv, yv, k);
            if (TMode.Enabled) TX.Store(g + i * sizeX, e.Gradient);
            if (l != null) TX.Store(l + i * sizeX, e.Loss);
            lossSum = AddWidened(lossSum, e.Loss);
            invalid |= InvalidTargets(yv);
            if (wantStatistics) stats.Add(e.P, yv);
        }
        if (i < end)
        {
            // The ragged tail goes through the same vector code on a padded copy, so every element gets
            // the same arithmetic; padding lanes (x = 0, y = 0) are masked out of the sums.
            int n = (int)(end - i);
            float* xs = stackalloc float[Vector256<float>.Count];
            float* ys = stackalloc float[Vector256<float>.Count];
            for (int j = 0; j < Vector256<float>.Count; j++)
            {
                xs[j] = j < n ? TX.ToSingle(x, (nint)(i + j)) : 0f;
                ys[j] = j < n ? TY.ToSingle(y, (nint)(i + j)) : 0f;
            }
            var live = Vector256.LessThan(Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7), Vector256.Create((float)n));
            var yv = Vector256.Load(ys);
            var e = Element<TMode>(Vector256.Load(xs), yv, k);
            for (int j = 0; j < n; j++)
            {
                if (TMode.Enabled) TX.FromSingle(g, (nint)(i + j), e.Gradient.GetElement(j));
                if (l != null) TX.FromSingle(l, (nint)(i + j), e.Loss.GetElement(j));
            }
            lossSum = AddWidened(lossSum, e.Loss & live);
            invalid |= InvalidTargets(yv);
            if (wantStatistics) stats.Add(e.P, yv, live);
        }

        var partial = new Partial { Loss = Vector256.Sum(lossSum), TargetsValid = invalid.AsUInt32() == Vector256<uint>.Zero };
        if (wantStatistics) stats.WriteTo(ref partial);
        return partial;
    }

    internal static int ElementSize<T>() where T : IElementCodec =>
        typeof(T) == typeof(Float64Codec) ? 8
        : typeof(T) == typeof(Float32Codec) ? 4
        : typeof(T) == typeof(UInt8Codec) ? 1
        : 2;

    private readonly record struct ElementResult(Vector256<float> Loss, Vector256<float> Gradient, Vector256<float> P);

    /// <summary>Loss, gradient and p of eight elements: ASL.md section 1, term by term.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ElementResult Element<TMode>(Vector256<float> x, Vector256<float> y, in Parameters k)
        where TMode : IGradientMode
    {
        var one = Vector256<float>.One;
        var zero = Vector256<float>.Zero;
        // p = 1/(1+e^-x) and q = 1 - p = 1/(1+e^x), both from e^-|x| so neither cancels.
        var ex = Vector256.Exp(-Vector256.Abs(x));
        var r = one / (one + ex);
        var nonNegative = Vector256.GreaterThanOrEqual(x, zero);
        var p = Vector256.ConditionalSelect(nonNegative, r, ex * r);
        var q = Vector256.ConditionalSelect(nonNegative, ex * r, r);

        var xnRaw0 = q + k.Clip;                                        // before clamp(max=1)
        var xn = k.Clipping ? Vector256.Min(xnRaw0, one) : q;
        var negY = one - y;
        // log p and log(1 - p) as log-sigmoids, min(+-x, 0) - log1p(e^-|x|): log of a p near 1 would lose
        // the digits of 1 - p. Below eps the clamp takes over, as clamp(min=eps) does.
        var softplusTail = Log1p(ex);
        var lp = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(p, k.Eps), Vector256.Min(x, zero) - softplusTail, k.LogEps);
        var lnUnclamped = k.Clipping ? Vector256.Log(xn) : Vector256.Min(-x, zero) - softplusTail;
        var ln = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(xn, k.Eps), lnUnclamped, k.LogEps);
        var l0 = y * lp + negY * ln;

        // 1 - pt = y(1 - p) + (1 - y)(1 - xn), and 1 - xn = max(p - clip, 0) under clipping.
        var oneMinusXn = k.Clipping ? Vector256.Max(p - k.Clip, zero) : p;
        var basis = y * q + negY * oneMinusXn;
        Vector256<float> w = one, wPrime = zero, g = zero;
        if (k.Focusing)
        {
            g = k.GammaPos * y + k.GammaNeg * negY;
            // Compare as integers: all bits set is a NaN as a float, and NaN == NaN is false.
            bool binary = k.IntegerGammas && (Vector256.Equals(y, zero) | Vector256.Equals(y, one)).AsUInt32() == Vector256<uint>.AllBitsSet;
            if (binary)
            {
                // Whole gammas and binary targets: (1 - pt)^g by multiplication, no pow.
                var isPositive = Vector256.Equals(y, one);
                w = Vector256.ConditionalSelect(isPositive, IntPow(q, k.IntGammaPos), IntPow(oneMinusXn, k.IntGammaNeg));
                if (TMode.Full)
                    wPrime = Vector256.ConditionalSelect(isPositive,
                        IntPow(q, Math.Max(k.IntGammaPos - 1, 0)), IntPow(oneMinusXn, Math.Max(k.IntGammaNeg - 1, 0)));
            }
            else
            {
                var (logBasisLower, logBasisUpper) = LogWidened(basis);
                w = Pow(logBasisLower, logBasisUpper, g);
                if (TMode.Full) wPrime = Pow(logBasisLower, logBasisUpper, g - one);
            }
        }
        // A NaN logit must give a NaN loss and gradient (as in PyTorch) even where a clamp or select hid it.
        var isNaN = ~Vector256.Equals(x, x);
        var loss = -(l0 * w) | isNaN;
        if (!TMode.Enabled) return new ElementResult(loss, default, p);

        var s = p * q;                                                   // dp/dx
        var dxn = k.Clipping ? -s & Vector256.LessThanOrEqual(xnRaw0, one) : -s;
        var dlp = q & Vector256.GreaterThanOrEqual(p, k.Eps);
        var dln = (dxn / xn) & Vector256.GreaterThanOrEqual(xn, k.Eps);
        var dl0 = y * dlp + negY * dln;
        var d = w * dl0;
        if (TMode.Full)
        {
            var dpt = y * s + negY * dxn;
            var dw = ~Vector256.Equals(g, zero) & (-(g * wPrime * dpt));   // exactly 0 where g == 0
            d += l0 * dw;
        }
        return new ElementResult(loss, (-d * k.GradientScale) | isNaN, p);
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

    /// <summary>log(1 + u) for u in [0, 1], accurate for small u (Goldberg's trick: the rounding of 1 + u cancels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Log1p(Vector256<float> u)
    {
        var w = Vector256<float>.One + u;
        var wMinusOne = w - Vector256<float>.One;
        return Vector256.ConditionalSelect(Vector256.Equals(wMinusOne, Vector256<float>.Zero), u, Vector256.Log(w) * (u / wMinusOne));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> IntPow(Vector256<float> basis, int exponent)
    {
        var result = Vector256<float>.One;
        for (; exponent > 0; exponent >>= 1)
        {
            if ((exponent & 1) != 0) result *= basis;
            basis *= basis;
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

    private struct StatisticsAccumulator
    {
        private Vector256<double> _pPos, _nPos, _pNeg, _nNeg;

        public void Add(Vector256<float> p, Vector256<float> y) => Add(p, y, Vector256<uint>.AllBitsSet.AsSingle());

        public void Add(Vector256<float> p, Vector256<float> y, Vector256<float> live)
        {
            var negY = (Vector256<float>.One - y) & live;
            y &= live;
            _pPos = AddWidened(_pPos, p * y);
            _nPos = AddWidened(_nPos, y);
            _pNeg = AddWidened(_pNeg, p * negY);
            _nNeg = AddWidened(_nNeg, negY);
        }

        public readonly void WriteTo(ref Partial partial)
        {
            partial.SumPPositive = Vector256.Sum(_pPos);
            partial.CountPositive = Vector256.Sum(_nPos);
            partial.SumPNegative = Vector256.Sum(_pNeg);
            partial.CountNegative = Vector256.Sum(_nNeg);
        }
    }
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
