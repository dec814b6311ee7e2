using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
/// AslCuda's extensions (docs/extensions.md: smoothing, pos_weight, per-class weight, batchmean) are type parameters of the loop,
/// so a call without them runs the paper code's loop unchanged. Per-class factors are read by column: the pass
/// keeps each element's column (flat index mod C) as a running counter, so chunks need not start at row boundaries.
/// </summary>
public static unsafe class MultiLabelCpu
{
    /// <summary>Elements per chunk: the unit of work of one thread and of one partial sum.</summary>
    internal const int ChunkLength = 8192;

    /// <summary>Below this many elements the pass runs on the calling thread.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>
    /// Computes the reduced loss and, when <paramref name="gradient"/> is not empty, d loss / dx for an
    /// upstream gradient of one (already divided by the element count for mean, by the rows for batchmean). For
    /// reduction none, <paramref name="elementLoss"/> receives each element's loss and the return value is their sum.
    /// <paramref name="classes"/> is C of the [N, C] input (row-major): batchmean and per-class factors need it
    /// (<see cref="AslOptions.CheckShape"/>); 0 where neither is used.
    /// </summary>
    public static double Compute<TLogit, TTarget>(
        ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient = default, Span<TLogit> elementLoss = default, int classes = 0)
        where TLogit : unmanaged where TTarget : unmanaged =>
        Compute(input, target, options, gradient, elementLoss, out _, computeStatistics: false, classes);

    /// <summary>As <see cref="Compute{TLogit,TTarget}(ReadOnlySpan{TLogit},ReadOnlySpan{TTarget},AslOptions,Span{TLogit},Span{TLogit},int)"/>,
    /// and also the probability statistics of adaptive asymmetry when asked for.</summary>
    public static double Compute<TLogit, TTarget>(
        ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient, Span<TLogit> elementLoss, out AslStatistics statistics, bool computeStatistics, int classes = 0)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        ArgumentNullException.ThrowIfNull(options);
        if (input.Length != target.Length)
            throw new ArgumentException($"input has {input.Length} elements but target has {target.Length}.", nameof(target));
        if (!gradient.IsEmpty && gradient.Length != input.Length)
            throw new ArgumentException($"gradient has {gradient.Length} elements, expected {input.Length}.", nameof(gradient));
        if (options.Reduction == AslReduction.None && elementLoss.Length != input.Length)
            throw new ArgumentException($"reduction none needs an element loss buffer of {input.Length} elements, got {elementLoss.Length}.", nameof(elementLoss));
        CheckClasses(input.Length, classes, options);
        fixed (TLogit* x = input)
        fixed (TTarget* y = target)
        fixed (TLogit* g = gradient)
        fixed (TLogit* l = elementLoss)
        {
            var request = new Request(x, y, gradient.IsEmpty ? null : g, options.Reduction == AslReduction.None ? l : null,
                input.Length, classes, options, computeStatistics);
            return Run(AslDataTypes.Of<TLogit>(), AslDataTypes.Of<TTarget>(), request, out statistics);
        }
    }

    /// <summary>
    /// <paramref name="classes"/> must be 0 (not given) or a C dividing the count, and batchmean and per-class
    /// factors need it (<see cref="AslOptions.CheckShape"/>).
    /// </summary>
    private static void CheckClasses(long count, int classes, AslOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        if (classes > 0 && count % classes != 0)
            throw new ArgumentException($"classes = {classes} does not divide the element count {count} (rows of C classes).", nameof(classes));
        options.CheckShape(count, classes);
    }

    /// <summary>
    /// Pointer form for tensor bridges: <paramref name="gradient"/> and <paramref name="elementLoss"/>
    /// (reduction none only) may be null, and use the logits' element type; <paramref name="classes"/> as in the
    /// span form.
    /// </summary>
    public static double Compute(AslDataType logitType, void* input, AslDataType targetType, void* target, long count,
        AslOptions options, void* gradient, void* elementLoss, out AslStatistics statistics, bool computeStatistics, int classes = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckClasses(count, classes, options);
        CheckDataType(logitType, nameof(logitType));
        CheckDataType(targetType, nameof(targetType));
        if (count > 0 && input is null) throw new ArgumentNullException(nameof(input), $"input is null but count is {count}.");
        if (count > 0 && target is null) throw new ArgumentNullException(nameof(target), $"target is null but count is {count}.");
        if (options.Reduction == AslReduction.None && elementLoss is null && count > 0)
            throw new ArgumentException("reduction none needs an element loss buffer.", nameof(elementLoss));
        var request = new Request(input, target, gradient, options.Reduction == AslReduction.None ? elementLoss : null,
            count, classes, options, computeStatistics);
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

    /// <summary>
    /// The methods from Run to the loop: fully optimized from their first call. Where this assembly is precompiled
    /// (ReadyToRun, see AslCuda.csproj: READY_TO_RUN) that is its precompiled code, and AggressiveOptimization would
    /// make the runtime ignore it and JIT-compile them (50-100 ms at a process's first call); elsewhere it keeps them
    /// from starting as tier-0 code, which runs every vector wrapper as a call (~100x slower). Where the precompiled
    /// code cannot run (no AVX-512: the image assumes x86-64-v4) the small methods start as tier-0 code and the loop,
    /// whose stackalloc rules out tier 0, is compiled optimized at its first call.
    /// </summary>
    private const MethodImplOptions JitOnlyOptimization =
#if READY_TO_RUN
        0;
#else
        MethodImplOptions.AggressiveOptimization;
#endif

    /// <summary>
    /// Forces 256-bit (256) or 512-bit (512) vectors for calls made on this thread; null picks 512 where the
    /// hardware accelerates it. Lets the tests check both loop bodies on one machine.
    /// </summary>
    [ThreadStatic] internal static int? VectorBitsOverride;

    private readonly struct Request(void* x, void* y, void* gradient, void* elementLoss, long count, int classes, AslOptions options, bool statistics)
    {
        public readonly nint X = (nint)x, Y = (nint)y, Gradient = (nint)gradient, ElementLoss = (nint)elementLoss;
        public readonly long Count = count;
        public readonly int Classes = classes;
        public readonly AslOptions Options = options;
        public readonly bool Statistics = statistics;
        public readonly bool Wide = VectorBitsOverride is { } bits ? bits == 512 : Vector512.IsHardwareAccelerated;
    }

    // Every method from here to the loop body is optimized code from its first call (see JitOnlyOptimization).
    [MethodImpl(JitOnlyOptimization)]
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

    [MethodImpl(JitOnlyOptimization)]
    private static double RunTyped<TX, TY>(in Request request, out AslStatistics statistics)
        where TX : IElementCodec where TY : IElementCodec
    {
        var o = request.Options;
        if (request.Gradient == 0)
            return RunWidth<TX, TY, NoGradient>(request, out statistics);
        return o.DetachFocalWeight || !o.HasFocusing
            ? RunWidth<TX, TY, DetachedGradient>(request, out statistics)
            : RunWidth<TX, TY, FullGradient>(request, out statistics);
    }

    [MethodImpl(JitOnlyOptimization)]
    private static double RunWidth<TX, TY, TMode>(in Request request, out AslStatistics statistics)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode =>
        request.Options.Clip > 0
            ? RunWidth<TX, TY, TMode, Clipping>(request, out statistics)
            : RunWidth<TX, TY, TMode, NoClipping>(request, out statistics);

    [MethodImpl(JitOnlyOptimization)]
    private static double RunWidth<TX, TY, TMode, TClip>(in Request request, out AslStatistics statistics)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode where TClip : IClipMode
    {
        // batchmean is only a different scale of the sum and the gradient, no term of the loop.
        var o = request.Options;
        bool factors = o.ClassWeight.Length > 0 || o.PosWeight.Length > 0;
        return (o.Smoothing > 0, factors) switch
        {
            (false, false) => RunWidth<TX, TY, TMode, TClip, TermOff, TermOff>(request, out statistics),
            (true, false) => RunWidth<TX, TY, TMode, TClip, TermOn, TermOff>(request, out statistics),
            (false, true) => RunWidth<TX, TY, TMode, TClip, TermOff, TermOn>(request, out statistics),
            _ => RunWidth<TX, TY, TMode, TClip, TermOn, TermOn>(request, out statistics),
        };
    }

    [MethodImpl(JitOnlyOptimization)]
    private static double RunWidth<TX, TY, TMode, TClip, TSmoothing, TFactors>(in Request request, out AslStatistics statistics)
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode where TClip : IClipMode where TSmoothing : IExtensionTerm where TFactors : IExtensionTerm =>
        request.Wide
            ? RunMode<FloatLanes512, DoubleLanes512, TX, TY, TMode, TClip, TSmoothing, TFactors>(request, out statistics)
            : RunMode<FloatLanes256, DoubleLanes256, TX, TY, TMode, TClip, TSmoothing, TFactors>(request, out statistics);

    [MethodImpl(JitOnlyOptimization)]
    private static double RunMode<TV, TW, TX, TY, TMode, TClip, TSmoothing, TFactors>(Request request, out AslStatistics statistics)
        where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode where TClip : IClipMode where TSmoothing : IExtensionTerm where TFactors : IExtensionTerm
    {
        long count = request.Count;
        int chunks = (int)((count + ChunkLength - 1) / ChunkLength);
        var partials = new Partial[chunks];
        var parameters = new Parameters<TV, TW>(request.Options, count, request.Classes);
        if (count >= ParallelThreshold && Environment.ProcessorCount > 1)
            Parallel.For(0, chunks, c => partials[c] = RunChunk<TV, TW, TX, TY, TMode, TClip, TSmoothing, TFactors>(request, parameters, c));
        else
            for (int c = 0; c < chunks; c++) partials[c] = RunChunk<TV, TW, TX, TY, TMode, TClip, TSmoothing, TFactors>(request, parameters, c);

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
        return request.Options.Reduction switch
        {
            AslReduction.Mean => count == 0 ? double.NaN : loss / count,
            AslReduction.BatchMean => count == 0 ? double.NaN : loss * ((double)request.Classes / count),
            _ => loss,
        };
    }

    private struct Partial
    {
        public double Loss, SumPPositive, CountPositive, SumPNegative, CountNegative;
        public bool TargetsValid;
    }

    /// <summary>Loop invariants as vectors, built once per call.</summary>
    private readonly struct Parameters<TV, TW> where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
    {
        public readonly TV GammaPos, GammaNeg, Clip, Eps, LogEps, NegatedGradientScale, NegligibleNegativeLogit, NegligiblePositiveLogit, ClippedAwayLogit;
        public readonly int IntGammaPos, IntGammaNeg, IntGammaPosMinusOne, IntGammaNegMinusOne;
        public readonly bool Focusing, IntegerGammas, SkipClippedAway;

        /// <summary>Smoothing: y' = y (1 - s) + s/2 as one multiply-add.</summary>
        public readonly TV OneMinusSmoothing, HalfSmoothing;

        /// <summary>
        /// The factors' period: C where a per-class vector is set, else 1 (one value for every element); and how far
        /// the column moves from one vector to the next, TV.Count mod the period.
        /// </summary>
        public readonly int FactorPeriod, ColumnStep;

        /// <summary>
        /// pos_weight and the class weight by column, repeated past the period (value j is the factor of column
        /// j mod period) so that one unaligned load at the column of a vector's first element gives every lane its
        /// factor; 1 where unset. Pinned: the loop reads them through pointers.
        /// </summary>
        public readonly float[]? PosWeightByColumn, ClassWeightByColumn;

        public Parameters(AslOptions o, long count, int classes)
        {
            GammaPos = TV.Create((float)o.GammaPos);
            GammaNeg = TV.Create((float)o.GammaNeg);
            Clip = TV.Create((float)o.Clip);
            Eps = TV.Create((float)o.Eps);
            LogEps = TV.Create((float)Math.Log(o.Eps));
            // ln(float.MinNormal) = -87.34: where p^(gamma_neg + 1) or q^(gamma_pos + 1) drops below it.
            NegligibleNegativeLogit = TV.Create((float)(-87.336544 / (o.GammaNeg + 1)));
            NegligiblePositiveLogit = TV.Create((float)(87.336544 / (o.GammaPos + 1)));
            NegatedGradientScale = TV.Create(count == 0 ? -1f : o.Reduction switch
            {
                AslReduction.Mean => (float)(-1.0 / count),
                AslReduction.BatchMean => (float)(-(double)classes / count),      // 1/N: N = count / C rows
                _ => -1f,
            });
            OneMinusSmoothing = TV.Create((float)(1 - o.Smoothing));
            HalfSmoothing = TV.Create((float)(0.5 * o.Smoothing));
            FactorPeriod = o.HasClassFactors ? classes : 1;
            ColumnStep = TV.Count % FactorPeriod;
            if (o.ClassWeight.Length > 0 || o.PosWeight.Length > 0)
            {
                PosWeightByColumn = ByColumn(o.PosWeight.Span, FactorPeriod);
                ClassWeightByColumn = ByColumn(o.ClassWeight.Span, FactorPeriod);
            }
            Focusing = o.HasFocusing;
            IntegerGammas = o.HasIntegerGammas;
            IntGammaPos = (int)o.GammaPos;
            IntGammaNeg = (int)o.GammaNeg;
            IntGammaPosMinusOne = Math.Max(IntGammaPos - 1, 0);
            IntGammaNegMinusOne = Math.Max(IntGammaNeg - 1, 0);
            // A negative with p < clip has xn = 1: log xn = 0 and clamp(max=1) blocks the gradient, so its loss and
            // gradient are exactly 0. Logits 1e-3 below logit(clip) are surely there (float32 p is good to ~1e-7).
            // Not for the full gradient with 0 < gamma_neg < 1, where PyTorch's pow gradient makes it NaN.
            ClippedAwayLogit = TV.Create((float)(Math.Log(o.Clip / (1 - o.Clip)) - 1e-3));
            SkipClippedAway = o.Clip > 0 && (o.DetachFocalWeight || o.GammaNeg == 0 || o.GammaNeg >= 1);
        }

        private static float[] ByColumn(ReadOnlySpan<float> factors, int period)
        {
            var byColumn = GC.AllocateUninitializedArray<float>(period + TV.Count - 1, pinned: true);
            for (int j = 0; j < byColumn.Length; j++)
                byColumn[j] = factors.Length switch { 0 => 1f, 1 => factors[0], _ => factors[j % period] };
            return byColumn;
        }
    }

    [MethodImpl(JitOnlyOptimization)]
    private static Partial RunChunk<TV, TW, TX, TY, TMode, TClip, TSmoothing, TFactors>(in Request r, in Parameters<TV, TW> k, int chunk)
        where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode where TClip : IClipMode where TSmoothing : IExtensionTerm where TFactors : IExtensionTerm
    {
        int sizeX = ElementSize<TX>(), sizeY = ElementSize<TY>();
        long start = (long)chunk * ChunkLength;
        long end = Math.Min(start + ChunkLength, r.Count);
        byte* g = (byte*)r.Gradient, l = (byte*)r.ElementLoss;
        var sums = new Sums<TV, TW>();
        // The factor arrays live on the pinned object heap: their addresses hold for the whole call.
        float* posWeights = null, classWeights = null;
        if (typeof(TFactors) == typeof(TermOn))
        {
            posWeights = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(k.PosWeightByColumn!));
            classWeights = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(k.ClassWeightByColumn!));
        }
        // The column of the chunk's first element (one division per chunk); the loop then counts columns.
        RunVectors<TV, TW, TX, TY, TMode, TClip, TSmoothing, TFactors>((byte*)r.X + start * sizeX, (byte*)r.Y + start * sizeY,
            g == null ? null : g + start * sizeX, l == null ? null : l + start * sizeX,
            end - start, k, r.Statistics, ref sums, posWeights, classWeights, (int)(start % k.FactorPeriod));

        return new Partial
        {
            Loss = TV.Sum(sums.Loss),
            SumPPositive = TV.Sum(sums.PPositive), CountPositive = TV.Sum(sums.CountPositive),
            SumPNegative = TV.Sum(sums.PNegative), CountNegative = TV.Sum(sums.CountNegative),
            TargetsValid = TV.None(sums.InvalidTargets),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ElementSize<T>() where T : IElementCodec =>
        typeof(T) == typeof(Float64Codec) ? 8
        : typeof(T) == typeof(Float32Codec) ? 4
        : typeof(T) == typeof(UInt8Codec) ? 1
        : 2;

    /// <summary>Running sums of one chunk, in float64 lanes; lanes that saw an invalid target set <see cref="InvalidTargets"/>.</summary>
    private struct Sums<TV, TW> where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
    {
        public TW Loss, PPositive, CountPositive, PNegative, CountNegative;
        public TV InvalidTargets;
    }

    /// <summary>
    /// Loss, gradient and statistics of <paramref name="count"/> elements, <c>TV.Count</c> at a time: ASL.md
    /// section 1, term by term. The whole loop body lives in this one method so that the JIT keeps it in
    /// registers. No vector goes in or out by value (the sums by reference): ReadyToRun does not precompile a method
    /// with vectors in its signature, nor one that calls such a method.
    /// Work per element, most to least common: negatives with p &lt; clip (whole vectors of them) cost a compare;
    /// binary targets cost one exp, one log and two divisions; soft targets one log more. AslCuda's extensions
    /// (<typeparamref name="TSmoothing"/>, <typeparamref name="TFactors"/>): smoothing makes every target soft; the
    /// factors cost three out-of-line calls per vector.
    /// </summary>
    [MethodImpl(JitOnlyOptimization)]
    private static void RunVectors<TV, TW, TX, TY, TMode, TClip, TSmoothing, TFactors>(byte* xp, byte* yp, byte* gradientOut, byte* lossOut, long count,
        in Parameters<TV, TW> k, bool statistics, ref Sums<TV, TW> sums, float* posWeights, float* classWeights, int column)
        where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
        where TX : IElementCodec where TY : IElementCodec where TMode : IGradientMode where TClip : IClipMode where TSmoothing : IExtensionTerm where TFactors : IExtensionTerm
    {
        int sizeX = ElementSize<TX>(), sizeY = ElementSize<TY>();
        int lanes = TV.Count;
        long vectors = count / lanes;
        int tail = (int)(count - vectors * lanes);
        long tailOffset = vectors * lanes;
        // The ragged tail goes through the same loop body as one more vector, a zero-padded copy (0 is a valid logit
        // and target in every format), so every element gets the same arithmetic; padding lanes are masked out of the
        // sums and never copied back. The stackalloc also keeps this method from ever running as tier-0 code: the JIT
        // cannot put OSR patchpoints in a method with stackalloc, so where no ReadyToRun code is there for it, it
        // compiles the loop optimized at once.
        const int BufferBytes = 16 * sizeof(double);                    // sixteen lanes of the widest element
        byte* buffers = stackalloc byte[4 * BufferBytes];
        byte* xs = buffers, ys = buffers + BufferBytes, gs = buffers + 2 * BufferBytes, ls = buffers + 3 * BufferBytes;
        if (tail > 0) CopyTailIn(buffers, 4 * BufferBytes, xp + tailOffset * sizeX, xs, tail * sizeX, yp + tailOffset * sizeY, ys, tail * sizeY);
        var one = TV.One;
        var zero = TV.Zero;
        var live = ~zero;
        var lossSum = sums.Loss;
        var invalid = sums.InvalidTargets;
        // With smoothing no target is 0, so no vector is all clipped-away negatives.
        bool skipClippedAway = k.SkipClippedAway && !statistics && typeof(TSmoothing) != typeof(TermOn);
        // AslCuda's extensions are typeof tests (folded before the JIT imports the blocks) around out-of-line calls (see
        // Smooth): the loop is close to the JIT's limit of tracked locals (JitMaxLocalsToTrack, 1024), past which its
        // vectors live on the stack; the paper code's loop measured 2x slower with the terms as static properties.
        long stepX = lanes * sizeX, stepY = lanes * sizeY;
        byte* xAt = xp, yAt = yp, gradientAt = gradientOut, lossAt = lossOut;
        for (long v = 0, loops = vectors + (tail > 0 ? 1 : 0); v < loops; v++, xAt += stepX, yAt += stepY, gradientAt += stepX, lossAt += stepX)
        {
            if (v == vectors)
            {
                xAt = xs;
                yAt = ys;
                gradientAt = gs;
                lossAt = ls;
                live = TV.FirstLanes(tail);
            }
            var x = TV.Load<TX>(xAt);
            var y = TV.Load<TY>(yAt);
            invalid |= InvalidTargets<TV, TW>(y);
            // smoothing comes before everything else (the statistics below reload the raw labels).
            if (typeof(TSmoothing) == typeof(TermOn))
            {
                Smooth(y, k, out var smoothed);
                y = smoothed;
            }
            var isNegative = TV.Equal(y, zero);

            if (skipClippedAway && TV.All(isNegative & TV.Less(x, k.ClippedAwayLogit)))
            {
                // Every lane a negative with p < clip: loss and gradient are 0 (and add nothing to the sum).
                if (TMode.Enabled) TV.Store<TX>(gradientAt, zero);
                if (lossOut != null) TV.Store<TX>(lossAt, zero);
                if (typeof(TFactors) == typeof(TermOn))
                {
                    column += k.ColumnStep;
                    if (column >= k.FactorPeriod) column -= k.FactorPeriod;
                }
                continue;
            }

            // p = 1/(1+e^-x) and q = 1 - p = 1/(1+e^x), both from e^-|x| so neither cancels.
            var ex = VectorMath.ExpOfNonPositive<TV, TW>(-TV.Abs(x));
            var onePlusEx = one + ex;
            var r = one / onePlusEx;
            var nonNegative = TV.GreaterOrEqual(x, zero);
            var pExact = TV.Select(nonNegative, r, ex * r);
            var qExact = TV.Select(nonNegative, ex * r, r);
            // A negative far below 0 (a positive far above) has a loss and gradient under float's normal range,
            // about p^(gamma_neg + 1) (q^(gamma_pos + 1)). Zeroing its small probability makes them exact zeros
            // instead of subnormal products, which take a slow path on x86 (2.4x slower passes were measured).
            var isPositive = TV.Equal(y, one);
            var p = pExact & ~(isNegative & TV.Less(x, k.NegligibleNegativeLogit));
            var q = qExact & ~(isPositive & TV.Greater(x, k.NegligiblePositiveLogit));
            var s = p * q;                                                       // dp/dx

            // log p and log(1 - p) are log-sigmoids, min(+-x, 0) - log1p(e^-|x|): log of a p near 1 would lose
            // the digits of 1 - p. log1p(u) = log(1 + u) + (u - ((1 + u) - 1)) / (1 + u): the correction restores
            // what rounding 1 + u lost, and 1 / (1 + e^-|x|) is r, already there. Below eps the clamp takes over,
            // as clamp(min=eps) does.
            // Clipped: xn = min(1 - p + clip, 1). For x < 0 it is 1 + v with v = min(clip - p, 0), and log xn =
            // log1p(v) keeps the digits where xn is near 1; for x >= 0 it is q + clip, where p near 1 would lose
            // them (v - (xn - 1) is then 0: no correction). 1 - xn = max(p - clip, 0). clamp(max=1) passes the
            // gradient where p >= clip: tested on p, whose rounding is far finer near the kink than that of 1 - p + clip.
            var xnFromQ = TClip.On ? TV.Min(q + k.Clip, one) : q;
            var clipExcess = TClip.On ? TV.Select(nonNegative, xnFromQ - one, TV.Min(k.Clip - p, zero)) : zero;
            var xn = TClip.On ? TV.Select(nonNegative, xnFromQ, one + clipExcess) : q;
            var oneMinusXn = TClip.On ? TV.Max(p - k.Clip, zero) : p;
            var dxn = TClip.On ? -s & TV.GreaterOrEqual(p, k.Clip) : -s;
            var pastEpsP = TV.GreaterOrEqual(p, k.Eps);
            var pastEpsXn = TV.GreaterOrEqual(xn, k.Eps);
            bool binary = typeof(TSmoothing) != typeof(TermOn) && (typeof(TY) == typeof(UInt8Codec) || TV.All(isNegative | isPositive));

            TV l0, dl0 = zero, reciprocalXn = zero;
            if (binary)
            {
                // One log per lane: of 1 + e^-|x| for positives (and for negatives without clipping), of xn for
                // clipped negatives; then l0 is log p or log xn, picked per lane.
                var logArgument = TClip.On ? TV.Select(isPositive, onePlusEx, xn) : onePlusEx;
                if (TClip.On) reciprocalXn = one / xn;
                var reciprocal = TClip.On ? TV.Select(isPositive, r, reciprocalXn) : r;
                var u = TClip.On ? TV.Select(isPositive, ex, clipExcess) : ex;
                var log1p = TV.MultiplyAdd(u - (logArgument - one), reciprocal, VectorMath.Log<TV, TW>(logArgument));
                var lp = TV.Select(pastEpsP, TV.Min(x, zero) - log1p, k.LogEps);
                var ln = TV.Select(pastEpsXn, TClip.On ? log1p : TV.Min(-x, zero) - log1p, k.LogEps);
                l0 = TV.Select(isPositive, lp, ln);
                if (TMode.Enabled)
                {
                    // d log p / dx = 1 - p; d log xn / dx = dxn / xn (= -p without clipping, where xn = 1 - p).
                    var dln = (TClip.On ? dxn * reciprocalXn : -p) & pastEpsXn;
                    dl0 = TV.Select(isPositive, q & pastEpsP, dln);
                }
                if (typeof(TFactors) == typeof(TermOn))
                {
                    // pos_weight multiplies the positive log term (and its derivative), not the focusing weight.
                    PositiveFactor<TV, TW>(isPositive, posWeights + column, out var positiveFactor);
                    l0 *= positiveFactor;
                    dl0 *= positiveFactor;
                }
            }
            else
            {
                var log1pEx = TV.MultiplyAdd(ex - (onePlusEx - one), r, VectorMath.Log<TV, TW>(onePlusEx));
                var lp = TV.Select(pastEpsP, TV.Min(x, zero) - log1pEx, k.LogEps);
                if (TClip.On) reciprocalXn = one / xn;
                var lnUnclamped = TClip.On
                    ? TV.MultiplyAdd(clipExcess - (xn - one), reciprocalXn, VectorMath.Log<TV, TW>(xn))
                    : TV.Min(-x, zero) - log1pEx;
                var ln = TV.Select(pastEpsXn, lnUnclamped, k.LogEps);
                var negY = one - y;
                if (typeof(TFactors) == typeof(TermOn))
                {
                    PositiveWeightedSum<TV, TW>(y, lp, negY, ln, posWeights + column, out var weighted);
                    l0 = weighted;
                }
                else l0 = y * lp + negY * ln;
                if (TMode.Enabled)
                {
                    var dln = (TClip.On ? dxn * reciprocalXn : -p) & pastEpsXn;
                    if (typeof(TFactors) == typeof(TermOn))
                    {
                        PositiveWeightedSum<TV, TW>(y, q & pastEpsP, negY, dln, posWeights + column, out var weighted);
                        dl0 = weighted;
                    }
                    else dl0 = y * (q & pastEpsP) + negY * dln;
                }
            }

            TV w = one, wPrime = zero, g = zero;
            if (k.Focusing)
            {
                g = TV.Select(isPositive, k.GammaPos, k.GammaNeg);
                if (binary && k.IntegerGammas)
                {
                    // Whole gammas and binary targets: (1 - pt)^g by multiplication, no pow.
                    w = TV.Select(isPositive, IntPow<TV, TW>(q, k.IntGammaPos), IntPow<TV, TW>(oneMinusXn, k.IntGammaNeg));
                    if (TMode.Full)
                        wPrime = TV.Select(isPositive, IntPow<TV, TW>(q, k.IntGammaPosMinusOne), IntPow<TV, TW>(oneMinusXn, k.IntGammaNegMinusOne));
                }
                else
                {
                    var negY = one - y;
                    if (!binary) g = k.GammaPos * y + k.GammaNeg * negY;
                    var basis = y * q + negY * oneMinusXn;
                    var exponent = g;
                    Pow<TV, TW>(basis, exponent, TMode.Full, out var power, out var powerBelow);
                    w = power;
                    wPrime = powerBelow;
                }
            }
            // A NaN logit must give a NaN loss and gradient (as in PyTorch) even where a clamp or select hid it.
            var isNaN = ~TV.Equal(x, x);
            // The class weight rescales loss and gradient after focusing.
            var loss = -(l0 * w) | isNaN;
            if (typeof(TFactors) == typeof(TermOn))
            {
                ScaleByFactors<TV, TW>(loss, classWeights + column, out var scaled);    // NaN stays NaN
                loss = scaled;
            }

            if (TMode.Enabled)
            {
                var d = w * dl0;
                if (TMode.Full)
                {
                    var dpt = binary ? TV.Select(isPositive, s, dxn) : y * s + (one - y) * dxn;
                    d += l0 * (~TV.Equal(g, zero) & -(g * wPrime * dpt));   // pow's gradient is exactly 0 where g == 0
                }
                if (typeof(TFactors) == typeof(TermOn))
                {
                    ScaleByFactors<TV, TW>(d, classWeights + column, out var scaled);
                    d = scaled;
                }
                TV.Store<TX>(gradientAt, (d * k.NegatedGradientScale) | isNaN);
            }
            if (lossOut != null) TV.Store<TX>(lossAt, loss);
            lossSum = TV.AddWidened(lossSum, loss & live);
            if (statistics)
            {
                if (typeof(TSmoothing) == typeof(TermOn))
                {
                    LoadTargets<TV, TW, TY>(yAt, out var rawTargets);   // adaptive asymmetry reads the raw labels
                    y = rawTargets;
                }
                var (targets, probability) = (y, pExact);
                AddStatistics(ref sums, targets, probability, live);
            }
            if (typeof(TFactors) == typeof(TermOn))
            {
                column += k.ColumnStep;
                if (column >= k.FactorPeriod) column -= k.FactorPeriod;
            }
        }
        sums.Loss = lossSum;
        sums.InvalidTargets = invalid;
        if (tail > 0)
        {
            if (gradientOut != null) CopyTailOut(gs, gradientOut + tailOffset * sizeX, tail * sizeX);
            if (lossOut != null) CopyTailOut(ls, lossOut + tailOffset * sizeX, tail * sizeX);
        }
    }

    // The tail's copies, out of line: inlined, their temporaries would push RunVectors past the JIT's inlining limits
    // (see Smooth), and then it calls vector helpers per vector (and ReadyToRun gives up on it).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CopyTailIn(byte* buffers, int bufferBytes, byte* x, byte* xs, int xBytes, byte* y, byte* ys, int yBytes)
    {
        new Span<byte>(buffers, bufferBytes).Clear();
        Buffer.MemoryCopy(x, xs, xBytes, xBytes);
        Buffer.MemoryCopy(y, ys, yBytes, yBytes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CopyTailOut(byte* source, byte* destination, int bytes) => Buffer.MemoryCopy(source, destination, bytes, bytes);

    /// <summary>
    /// Adaptive asymmetry's sums of p and of the counts over positives and negatives. Out of line (only asked for by
    /// adaptive asymmetry): inlined, it would push RunVectors past the JIT's inlining limits (see Smooth).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddStatistics<TV, TW>(ref Sums<TV, TW> sums, in TV y, in TV p, in TV live)
        where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
    {
        var yLive = y & live;
        var negYLive = (TV.One - y) & live;
        sums.PPositive = TV.AddWidened(sums.PPositive, p * yLive);
        sums.CountPositive = TV.AddWidened(sums.CountPositive, yLive);
        sums.PNegative = TV.AddWidened(sums.PNegative, p * negYLive);
        sums.CountNegative = TV.AddWidened(sums.CountNegative, negYLive);
    }

    /// <summary>
    /// b^g and, when <paramref name="derivative"/>, b^(g - 1), as e^(g log b) with pow(b, 0) = 1 (also for b = 0) and
    /// pow(0, g &gt; 0) = 0. The exponent is formed in float64: in float32 its rounding error, |g log b| ulps, would show
    /// in tiny weights such as 1e-30. Out of line (only non-integer gammas and soft targets need it) and by reference:
    /// the BCL's float64 exp and log it calls, and vectors passed by value, keep ReadyToRun from precompiling a
    /// method, and this one is small enough to JIT fully optimized on first use.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Pow<TV, TW>(in TV basis, in TV g, bool derivative, out TV power, out TV powerBelow)
        where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
    {
        var logLower = TV.LogWidened(basis, out var logUpper);
        power = TV.Select(TV.Equal(g, TV.Zero), TV.One, TV.ExpOfProduct(logLower, logUpper, g));
        var gBelow = g - TV.One;
        powerBelow = derivative ? TV.Select(TV.Equal(gBelow, TV.Zero), TV.One, TV.ExpOfProduct(logLower, logUpper, gBelow)) : TV.Zero;
    }

    // AslCuda's extensions, out of line: inlined, their temporaries would push RunVectors past the JIT's limit of tracked
    // locals (JitMaxLocalsToTrack, 1024), and then its vectors would live on the stack. A call costs a few ns per
    // vector, only where the term is in use. Vectors go by reference: ReadyToRun does not precompile a call that
    // passes them by value.

    /// <summary>y' = y (1 - s) + s/2.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Smooth<TV, TW>(in TV y, in Parameters<TV, TW> k, out TV smoothed) where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged =>
        smoothed = TV.MultiplyAdd(y, k.OneMinusSmoothing, k.HalfSmoothing);

    /// <summary>The raw targets again (the statistics ignore smoothing).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LoadTargets<TV, TW, TY>(byte* source, out TV targets) where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged where TY : IElementCodec =>
        targets = TV.Load<TY>(source);

    /// <summary><paramref name="value"/> times the factors of the vector's classes, from a by-column array.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ScaleByFactors<TV, TW>(in TV value, float* factors, out TV scaled) where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged =>
        scaled = value * TV.Load<Float32Codec>(factors);

    /// <summary>y pw term + (1 - y) other: pos_weight (by column) on the positive term of a soft target.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PositiveWeightedSum<TV, TW>(in TV y, in TV positiveTerm, in TV negY, in TV negativeTerm, float* posWeights, out TV sum)
        where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged =>
        sum = y * TV.Load<Float32Codec>(posWeights) * positiveTerm + negY * negativeTerm;

    /// <summary>pos_weight of the vector's classes in positive lanes, 1 in the others.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PositiveFactor<TV, TW>(in TV isPositive, float* posWeights, out TV factor) where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged =>
        factor = TV.Select(isPositive, TV.Load<Float32Codec>(posWeights), TV.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> IntPow(Vector256<float> basis, int exponent) =>
        IntPow<FloatLanes256, DoubleLanes256>(new(basis), exponent).Value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV IntPow<TV, TW>(TV basis, int exponent) where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged
    {
        var result = TV.One;
        for (; exponent > 0; exponent >>= 1)
        {
            if ((exponent & 1) != 0) result *= basis;
            // No square past the last bit: an unused b^(2^k) of a small b is subnormal, which costs ~100 cycles a lane.
            if (exponent > 1) basis *= basis;
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<double> AddWidened(Vector256<double> sum, Vector256<float> v) => FloatLanes256.AddWidened(new(sum), new(v)).Value;

    /// <summary>All bits set in lanes whose target is outside [0, 1] or NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV InvalidTargets<TV, TW>(TV y) where TV : unmanaged, IFloatLanes<TV, TW> where TW : unmanaged =>
        ~(TV.GreaterOrEqual(y, TV.Zero) & TV.LessOrEqual(y, TV.One));
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

/// <summary>Whether clip &gt; 0 (the negatives' probability margin applies); a type parameter so the JIT drops the other branch.</summary>
internal interface IClipMode
{
    static abstract bool On { get; }
}

internal struct Clipping : IClipMode
{
    public static bool On => true;
}

internal struct NoClipping : IClipMode
{
    public static bool On => false;
}

/// <summary>
/// Whether one of AslCuda's extensions (docs/extensions.md) is in the loop: <see cref="TermOn"/> or <see cref="TermOff"/> as the
/// type argument <c>TSmoothing</c> (label smoothing s &gt; 0) or <c>TFactors</c> (pos_weight and/or the per-class
/// weight, read by column, 1 where unset). The loop tests them as typeof(T) == typeof(TermOn), which the JIT folds
/// while it imports the method, so the paper code's instantiation never even imports the terms' code. batchmean is
/// no term of the loop, only the scale of the sum and of the gradient.
/// </summary>
internal interface IExtensionTerm;

internal struct TermOn : IExtensionTerm;

internal struct TermOff : IExtensionTerm;
