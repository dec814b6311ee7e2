using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AslCuda.Cpu;

/// <summary>
/// Fused single-label ASL on the CPU (ASL.md section 2). Per row of C logits with target class t, three sweeps
/// over data that stays in L1: (1) convert the logits to float32 and take their max m; (2) e_c = exp(x_c - m) and
/// the row sums below; (3) when a gradient is wanted, write d loss / dx. Float32 SIMD math per element, float64 per
/// row. Rows run in parallel in fixed chunks whose loss sums are added in chunk order, so the result is the same
/// bits whatever the number of threads.
///
/// Why sweep (2) is enough for the loss and for S = sum_c (a_c + b_c): with the sums over the other classes c != t
///     Z' = sum e_c,   E1 = sum e_c^gn,   E2 = sum e_c^gn (x_c - m)
/// and Z = Z' + e_t, log Z = log1p(Z' + e_t - 1), q_c = x_c - m - log Z, P_c = e_c / Z, 1 - P_t = Z' / Z:
///     sum_{c != t} P_c^gn     = E1 / Z^gn
///     sum_{c != t} P_c^gn q_c = (E2 - log Z * E1) / Z^gn        both terms are &lt;= 0, so nothing cancels
///     row_loss = -(eps/C) sum_{c != t} P_c^gn q_c  -  s_t w_t q_t
///     a_c + b_c = (eps/C) P_c^gn (1 + gn q_c)   for c != t      (w_c = P_c^gn, w'_c = gn P_c^(gn-1))
///     a_t + b_t = s_t (w_t + q_t w'_t P_t),     w_t = (1 - P_t)^gp,  w'_t = -gp (1 - P_t)^(gp-1)
///     d row_loss / d x_k = -(a_k + b_k) + P_k S, and for k = t the same value written as
///     -(a_t + b_t)(1 - P_t) + P_t sum_{c != t}(a_c + b_c), which keeps its digits when P_t is close to 1.
/// Numerics: 1 - P_t and log Z come from Z' without cancellation, so confident rows keep small losses and gradients
/// that float32 1 - softmax would round to 0. Gammas in (0, 1) have an infinite pow gradient at a zero base: the
/// paper formula meets it where its float 1 - P_t or 1 - (1 - P_c) rounds to 0 and PyTorch gives NaN; here the
/// gradient of (1 - P_t)^gamma_pos is NaN only where Z' underflows (the target's logit about 87 above all others),
/// and that of P_c^gamma_neg is never formed (a_c + b_c needs P_c^gn only). Logits up to float's range (float64 logits
/// near 1e38, whose differences overflow float) give the formula's finite values: a class whose P is 0 contributes 0.
/// NaN or +inf logits give NaN, as in PyTorch; a -inf logit is a class of probability 0 (an infinite loss when it is
/// the target's), where PyTorch's formula gives NaN.
/// Targets are checked before any logit is read.
/// </summary>
public static unsafe class SingleLabelCpu
{
    /// <summary>Elements per chunk (rounded to whole rows, at least one): the unit of work of one thread.</summary>
    internal const int ChunkLength = 8192;

    /// <summary>Below this many elements the pass runs on the calling thread.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>
    /// Computes the reduced loss of <paramref name="target"/>.Length rows of <paramref name="classes"/> logits and,
    /// when <paramref name="gradient"/> is not empty, d loss / dx for an upstream gradient of one (already divided by
    /// the row count for mean). For reduction none, <paramref name="rowLoss"/> receives each row's loss and the return
    /// value is their sum.
    /// </summary>
    public static double Compute<TLogit, TIndex>(
        ReadOnlySpan<TLogit> input, ReadOnlySpan<TIndex> target, int classes, SingleLabelOptions options,
        Span<TLogit> gradient = default, Span<TLogit> rowLoss = default)
        where TLogit : unmanaged where TIndex : unmanaged
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        long count = (long)target.Length * classes;
        if (input.Length != count)
            throw new ArgumentException($"input has {input.Length} elements but {target.Length} targets x {classes} classes need {count}.", nameof(input));
        if (!gradient.IsEmpty && gradient.Length != input.Length)
            throw new ArgumentException($"gradient has {gradient.Length} elements, expected {input.Length}.", nameof(gradient));
        if (options.Reduction == AslReduction.None && rowLoss.Length != target.Length)
            throw new ArgumentException($"reduction none needs a row loss buffer of {target.Length} elements, got {rowLoss.Length}.", nameof(rowLoss));
        fixed (TLogit* x = input)
        fixed (TIndex* t = target)
        fixed (TLogit* g = gradient)
        fixed (TLogit* l = rowLoss)
            return Compute(AslDataTypes.Of<TLogit>(), x, AslIndexTypes.Of<TIndex>(), t, target.Length, classes, options,
                gradient.IsEmpty ? null : g, l);
    }

    /// <summary>
    /// Pointer form for tensor bridges: row-major [rows, classes] logits, [rows] class indices. <paramref name="gradient"/>
    /// ([rows, classes]) and <paramref name="rowLoss"/> ([rows], reduction none only) may be null and use the logits'
    /// element type.
    /// </summary>
    public static double Compute(AslDataType logitType, void* input, AslIndexType targetType, void* target,
        long rows, long classes, SingleLabelOptions options, void* gradient, void* rowLoss)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes, Array.MaxLength / 2);
        MultiLabelCpu.CheckDataType(logitType, nameof(logitType));
        if (rows > 0 && classes > 0 && input is null) throw new ArgumentNullException(nameof(input), $"input is null but holds {rows} x {classes} logits.");
        if (rows > 0 && target is null) throw new ArgumentNullException(nameof(target), $"target is null but holds {rows} class indices.");
        if (!logitType.IsFloatingPoint())
            throw new ArgumentException($"logits must be floating point, got {logitType}.", nameof(logitType));
        if (!Enum.IsDefined(targetType))
            throw new ArgumentOutOfRangeException(nameof(targetType), targetType, $"targetType {(int)targetType} is not an AslIndexType: targets must be int64 or int32 class indices.");
        if (options.Reduction == AslReduction.None && rowLoss is null && rows > 0)
            throw new ArgumentException("reduction none needs a row loss buffer.", nameof(rowLoss));
        CheckTargets(targetType, target, rows, classes);

        var request = new Request(input, targetType, target, gradient, options.Reduction == AslReduction.None ? rowLoss : null,
            rows, (int)classes, options);
        return logitType switch
        {
            AslDataType.Float32 => RunTyped<Float32Codec>(request),
            AslDataType.Float64 => RunTyped<Float64Codec>(request),
            AslDataType.Float16 => RunTyped<Float16Codec>(request),
            _ => RunTyped<BFloat16Codec>(request),
        };
    }

    /// <summary>Every target must be a class index; checked up front so a bad one is never used as an offset.</summary>
    private static void CheckTargets(AslIndexType type, void* target, long rows, long classes)
    {
        for (long n = 0; n < rows; n++)
        {
            long t = TargetAt(type, target, n);
            if ((ulong)t >= (ulong)classes)
                throw new ArgumentException($"target[{n}] = {t} is not a class index in [0, {classes}).", "target");
        }
    }

    private static long TargetAt(AslIndexType type, void* target, long row) =>
        type == AslIndexType.Int64 ? ((long*)target)[row] : ((int*)target)[row];

    private readonly struct Request(void* x, AslIndexType targetType, void* target, void* gradient, void* rowLoss,
        long rows, int classes, SingleLabelOptions options)
    {
        public readonly nint X = (nint)x, Target = (nint)target, Gradient = (nint)gradient, RowLoss = (nint)rowLoss;
        public readonly AslIndexType TargetType = targetType;
        public readonly long Rows = rows;
        public readonly int Classes = classes;
        public readonly SingleLabelOptions Options = options;
    }

    private static double RunTyped<TX>(in Request request) where TX : IElementCodec =>
        request.Gradient == 0 ? RunMode<TX, NoGradient>(request) : RunMode<TX, FullGradient>(request);

    private static double RunMode<TX, TMode>(Request request) where TX : IElementCodec where TMode : IGradientMode
    {
        long rows = request.Rows;
        int rowsPerChunk = Math.Max(1, ChunkLength / Math.Max(1, request.Classes));
        int chunks = (int)((rows + rowsPerChunk - 1) / rowsPerChunk);
        var partials = new double[chunks];
        var parameters = new Parameters(request.Options, request.Classes, rows);
        if (rows * request.Classes >= ParallelThreshold && Environment.ProcessorCount > 1)
            Parallel.For(0, chunks, c => partials[c] = RunChunk<TX, TMode>(request, parameters, c, rowsPerChunk));
        else
            for (int c = 0; c < chunks; c++) partials[c] = RunChunk<TX, TMode>(request, parameters, c, rowsPerChunk);

        double loss = 0;
        foreach (double partial in partials) loss += partial;
        return request.Options.Reduction == AslReduction.Mean ? (rows == 0 ? double.NaN : loss / rows) : loss;
    }

    /// <summary>Loop invariants, built once per call.</summary>
    private readonly struct Parameters
    {
        public readonly double GammaPos, GammaNeg, SmoothTarget, SmoothOther, GradientScale;
        public readonly int IntGammaNeg, PaddedClasses;
        public readonly float FlushBelow;
        public readonly bool IntegerGammaNeg;

        public Parameters(SingleLabelOptions o, int classes, long rows)
        {
            GammaPos = o.GammaPos;
            GammaNeg = o.GammaNeg;
            SmoothOther = classes == 0 ? 0 : o.Eps / classes;                 // s_c = eps/C off the target
            SmoothTarget = 1 - o.Eps + SmoothOther;                           // s_t = 1 - eps + eps/C
            GradientScale = o.Reduction == AslReduction.Mean && rows > 0 ? 1.0 / rows : 1.0;
            IntegerGammaNeg = AslOptions.IsSmallInteger(o.GammaNeg);
            IntGammaNeg = IntegerGammaNeg ? (int)o.GammaNeg : 0;
            FlushBelow = IntGammaNeg > 0 ? (float)Math.Pow(2, -126.0 / IntGammaNeg) : 0f;   // b^n >= 2^-126, float's least normal
            PaddedClasses = (classes + Vector256<float>.Count - 1) & ~(Vector256<float>.Count - 1);
        }
    }

    // AggressiveOptimization: tier-0 code runs every Vector256 operation as a call (~30x slower), and a training
    // loop would spend its first few hundred steps there before tiering promotes the loops.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double RunChunk<TX, TMode>(in Request r, in Parameters k, int chunk, int rowsPerChunk)
        where TX : IElementCodec where TMode : IGradientMode
    {
        long start = (long)chunk * rowsPerChunk;
        long end = Math.Min(start + rowsPerChunk, r.Rows);
        // Two float32 rows of scratch: the converted logits (padded with -inf) and e = exp(x - m), later the gradient.
        var scratch = ArrayPool<float>.Shared.Rent(2 * k.PaddedClasses);
        try
        {
            fixed (float* buffer = scratch)
            {
                double loss = 0;
                for (long n = start; n < end; n++)
                {
                    double rowLoss = Row<TX, TMode>(r, k, n, buffer, buffer + k.PaddedClasses);
                    if (r.RowLoss != 0) TX.FromSingle((void*)r.RowLoss, (nint)n, (float)rowLoss);
                    loss += rowLoss;
                }
                return loss;
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>One row: returns its loss and, in gradient mode, writes its gradient row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Row<TX, TMode>(in Request r, in Parameters k, long row, float* xs, float* es)
        where TX : IElementCodec where TMode : IGradientMode
    {
        const int Lanes = 8;
        int classes = r.Classes, padded = k.PaddedClasses, full = classes & ~(Lanes - 1);
        int size = MultiLabelCpu.ElementSize<TX>();
        byte* x = (byte*)r.X + row * classes * size;
        int t = (int)TargetAt(r.TargetType, (void*)r.Target, row);

        // Sweep 1: float32 copy of the row, padded with -inf so that padding lanes give e = 0; and its max.
        var maxVector = Vector256.Create(float.NegativeInfinity);
        int j = 0;
        for (; j < full; j += Lanes)
        {
            var v = TX.Load(x + j * size);
            v.Store(xs + j);
            maxVector = Vector256.Max(maxVector, v);
        }
        if (j < classes)
        {
            for (int i = j; i < padded; i++) xs[i] = i < classes ? TX.ToSingle(x, i) : float.NegativeInfinity;
            maxVector = Vector256.Max(maxVector, Vector256.Load(xs + j));
        }
        float max = float.NegativeInfinity;
        for (int lane = 0; lane < Lanes; lane++) max = MathF.Max(max, maxVector.GetElement(lane));   // NaN propagates

        // Sweep 2: e = exp(x - m) and, over the other classes, Z', E1 and E2 (see the class comment).
        var m = Vector256.Create(max);
        var gammaNeg = Vector256.Create((float)k.GammaNeg);
        var laneIndex = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var targetIndex = Vector256.Create(t);
        var classCount = Vector256.Create(classes);
        // x - m overflows float for logits more than 3.4e38 apart (float64 logits near 1e38): -inf would make
        // e^gn * d = 0 * -inf NaN. The lowest float is as good: its e and e^gn are 0 too. NaN stays NaN.
        var lowest = Vector256.Create(float.MinValue);
        Vector256<double> zOtherSum = default, e1Sum = default, e2Sum = default;
        for (j = 0; j < padded; j += Lanes)
        {
            var d = Vector256.Load(xs + j) - m;
            d = Vector256.ConditionalSelect(Vector256.LessThan(d, lowest), lowest, d);
            var e = Vector256.Exp(d);
            if (TMode.Enabled) e.Store(es + j);
            var index = laneIndex + Vector256.Create(j);
            var other = (~Vector256.Equals(index, targetIndex) & Vector256.LessThan(index, classCount)).AsSingle();
            var eg = k.IntegerGammaNeg ? FlushedIntPow(e, k) : Vector256.Exp(gammaNeg * d);
            zOtherSum = MultiLabelCpu.AddWidened(zOtherSum, e & other);
            e1Sum = MultiLabelCpu.AddWidened(e1Sum, eg & other);
            e2Sum = MultiLabelCpu.AddWidened(e2Sum, (eg * d) & other);
        }

        // The row in float64.
        double zOther = Vector256.Sum(zOtherSum), e1 = Vector256.Sum(e1Sum), e2 = Vector256.Sum(e2Sum);
        double dt = (double)xs[t] - max;
        double et = Math.Exp(dt);
        double z = zOther + et;
        double logZ = LogOnePlus(zOther + (et - 1));       // et == 1 when t holds the max, then exactly log1p(Z')
        double pt = et / z, oneMinusPt = zOther / z, qt = dt - logZ;
        double wt = Power(oneMinusPt, k.GammaPos);
        double wPrimeT = k.GammaPos == 0 ? 0 : -k.GammaPos * Power(oneMinusPt, k.GammaPos - 1);
        double abTarget = k.SmoothTarget * (wt + qt * wPrimeT * pt);
        double zPowNeg = Math.Exp(-k.GammaNeg * logZ);                        // Z^-gn
        double sumPowQ = (e2 - logZ * e1) * zPowNeg;                          // sum_{c != t} P_c^gn q_c
        double abOther = k.SmoothOther * (e1 * zPowNeg + k.GammaNeg * sumPowQ);
        double loss = -k.SmoothOther * sumPowQ - k.SmoothTarget * wt * qt;
        if (!TMode.Enabled) return loss;

        // Sweep 3: d row_loss / d x_k = -(a_k + b_k) + P_k S, in place of e; the target's entry is set afterwards.
        var scale = Vector256.Create((float)k.GradientScale);
        var invZ = Vector256.Create((float)(1 / z));
        var logZVector = Vector256.Create((float)logZ);
        var sumAll = Vector256.Create((float)(abOther + abTarget));
        var smoothOther = Vector256.Create((float)k.SmoothOther);
        for (j = 0; j < padded; j += Lanes)
        {
            var p = Vector256.Load(es + j) * invZ;
            var ab = smoothOther;
            if (k.GammaNeg != 0)
            {
                var q = Vector256.Load(xs + j) - m - logZVector;
                var pg = k.IntegerGammaNeg ? FlushedIntPow(p, k) : Vector256.Exp(gammaNeg * q);
                // P^gn (1 + gn q) -> 0 as P -> 0, but gn q can overflow to -inf where P^gn is 0 (classes ~1e38 below
                // the max): the term is 0 there, not 0 * -inf.
                ab = Vector256.ConditionalSelect(Vector256.Equals(pg, Vector256<float>.Zero), Vector256<float>.Zero,
                    smoothOther * pg * (Vector256<float>.One + gammaNeg * q));
            }
            ((sumAll * p - ab) * scale).Store(es + j);
        }
        es[t] = (float)((-abTarget * oneMinusPt + pt * abOther) * k.GradientScale);

        byte* g = (byte*)r.Gradient + row * classes * size;
        for (j = 0; j < full; j += Lanes) TX.Store(g + j * size, Vector256.Load(es + j));
        for (; j < classes; j++) TX.FromSingle(g, j, es[j]);
        return loss;
    }

    /// <summary>
    /// b^gn for whole gn, with the powers below float's normal range (1.2e-38) flushed to 0, as FTZ hardware does:
    /// far below any float32 loss or gradient term, and each subnormal product costs ~100 cycles a lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> FlushedIntPow(Vector256<float> basis, in Parameters k) =>
        MultiLabelCpu.IntPow(basis & Vector256.GreaterThanOrEqual(basis, Vector256.Create(k.FlushBelow)), k.IntGammaNeg);

    /// <summary>b^g, by multiplication for whole g (pow(b, 0) = 1, also for b = 0).</summary>
    private static double Power(double basis, double gamma)
    {
        if (!AslOptions.IsSmallInteger(gamma)) return Math.Pow(basis, gamma);
        double result = 1;
        for (int exponent = (int)gamma; exponent > 0; exponent >>= 1)
        {
            if ((exponent & 1) != 0) result *= basis;
            basis *= basis;
        }
        return result;
    }

    /// <summary>log(1 + v) with full relative accuracy for small v (double.LogP1 computes log(v + 1) as written).</summary>
    private static double LogOnePlus(double v)
    {
        double u = 1 + v;
        return u == 1 ? v : Math.Log(u) * v / (u - 1);
    }
}
