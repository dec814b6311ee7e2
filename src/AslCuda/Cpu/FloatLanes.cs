using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AslCuda.Cpu;

/// <summary>
/// float32 lanes of one SIMD width, so that the fused loops are written once for 256- and 512-bit vectors.
/// Each member is a single BCL vector operation (inlined: the wrapper costs nothing in the generated code);
/// <typeparamref name="TWide"/> is the float64 vector that holds half as many lanes, for the sums.
/// </summary>
internal unsafe interface IFloatLanes<TSelf, TWide>
    where TSelf : unmanaged, IFloatLanes<TSelf, TWide> where TWide : unmanaged
{
    static abstract int Count { get; }
    static abstract TSelf Create(float value);
    static abstract TSelf Zero { get; }
    static abstract TSelf One { get; }

    /// <summary>1 in the first <paramref name="count"/> lanes' bits (all bits set), 0 in the others.</summary>
    static abstract TSelf FirstLanes(int count);

    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a);
    static abstract TSelf operator &(TSelf a, TSelf b);
    static abstract TSelf operator |(TSelf a, TSelf b);
    static abstract TSelf operator ~(TSelf a);

    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract TSelf Min(TSelf a, TSelf b);
    static abstract TSelf Max(TSelf a, TSelf b);
    static abstract TSelf Abs(TSelf a);
    static abstract TSelf Floor(TSelf a);
    static abstract TSelf Select(TSelf mask, TSelf whereSet, TSelf whereClear);
    static abstract TSelf Equal(TSelf a, TSelf b);
    static abstract TSelf Less(TSelf a, TSelf b);
    static abstract TSelf LessOrEqual(TSelf a, TSelf b);
    static abstract TSelf Greater(TSelf a, TSelf b);
    static abstract TSelf GreaterOrEqual(TSelf a, TSelf b);

    /// <summary>True when no bit of <paramref name="mask"/> is set.</summary>
    static abstract bool None(TSelf mask);

    /// <summary>True when every bit of <paramref name="mask"/> is set.</summary>
    static abstract bool All(TSelf mask);

    /// <summary>2^n for whole n in float's normal exponent range.</summary>
    static abstract TSelf ScaleByPowerOfTwo(TSelf value, TSelf n);

    /// <summary>Splits positive normal x into x = m 2^e, m in [0.5, 1); returns e. (No tuples here or below:
    /// ReadyToRun does not precompile code that builds a ValueTuple of vectors.)</summary>
    static abstract TSelf Decompose(TSelf x, out TSelf mantissa);

    static abstract TSelf Load<TCodec>(void* source) where TCodec : IElementCodec;
    static abstract void Store<TCodec>(void* destination, TSelf value) where TCodec : IElementCodec;

    static abstract TWide AddWidened(TWide sum, TSelf value);
    static abstract double Sum(TWide sum);
    /// <summary>log of each lane in float64: the lower half's, and the upper half's in <paramref name="upper"/>.</summary>
    static abstract TWide LogWidened(TSelf value, out TWide upper);

    /// <summary>e^(g log b) with the product formed in float64 (see <see cref="MultiLabelCpu"/>'s pow).</summary>
    static abstract TSelf ExpOfProduct(TWide logLower, TWide logUpper, TSelf g);
}

/// <summary>Eight float32 lanes (AVX2, or AVX-512VL encodings where the JIT has them).</summary>
internal readonly unsafe struct FloatLanes256(Vector256<float> value) : IFloatLanes<FloatLanes256, DoubleLanes256>
{
    public readonly Vector256<float> Value = value;

    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Create(float value) => new(Vector256.Create(value));
    public static FloatLanes256 Zero => new(Vector256<float>.Zero);
    public static FloatLanes256 One => new(Vector256<float>.One);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes256 FirstLanes(int count) => new(Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(count)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator +(FloatLanes256 a, FloatLanes256 b) => new(a.Value + b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator -(FloatLanes256 a, FloatLanes256 b) => new(a.Value - b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator *(FloatLanes256 a, FloatLanes256 b) => new(a.Value * b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator /(FloatLanes256 a, FloatLanes256 b) => new(a.Value / b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator -(FloatLanes256 a) => new(-a.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator &(FloatLanes256 a, FloatLanes256 b) => new(a.Value & b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator |(FloatLanes256 a, FloatLanes256 b) => new(a.Value | b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 operator ~(FloatLanes256 a) => new(~a.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 MultiplyAdd(FloatLanes256 a, FloatLanes256 b, FloatLanes256 c) => new(Fma.IsSupported ? Fma.MultiplyAdd(a.Value, b.Value, c.Value) : Vector256.MultiplyAddEstimate(a.Value, b.Value, c.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Min(FloatLanes256 a, FloatLanes256 b) => new(Avx.IsSupported ? Avx.Min(a.Value, b.Value) : Vector256.MinNative(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Max(FloatLanes256 a, FloatLanes256 b) => new(Avx.IsSupported ? Avx.Max(a.Value, b.Value) : Vector256.MaxNative(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Abs(FloatLanes256 a) => new(Vector256.Abs(a.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Floor(FloatLanes256 a) => new(Vector256.Floor(a.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Select(FloatLanes256 mask, FloatLanes256 whereSet, FloatLanes256 whereClear) => new(Vector256.ConditionalSelect(mask.Value, whereSet.Value, whereClear.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Equal(FloatLanes256 a, FloatLanes256 b) => new(Vector256.Equals(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Less(FloatLanes256 a, FloatLanes256 b) => new(Vector256.LessThan(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 LessOrEqual(FloatLanes256 a, FloatLanes256 b) => new(Vector256.LessThanOrEqual(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Greater(FloatLanes256 a, FloatLanes256 b) => new(Vector256.GreaterThan(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 GreaterOrEqual(FloatLanes256 a, FloatLanes256 b) => new(Vector256.GreaterThanOrEqual(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool None(FloatLanes256 mask) => mask.Value.AsUInt32() == Vector256<uint>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool All(FloatLanes256 mask) => mask.Value.AsUInt32() == Vector256<uint>.AllBitsSet;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes256 ScaleByPowerOfTwo(FloatLanes256 value, FloatLanes256 n) =>
        new(value.Value * (Vector256.ConvertToInt32(n.Value) + Vector256.Create(127) << 23).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes256 Decompose(FloatLanes256 x, out FloatLanes256 mantissa)
    {
        var bits = x.Value.AsInt32();
        mantissa = new(((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F000000)).AsSingle());
        return new(Vector256.ConvertToSingle((bits >>> 23) - Vector256.Create(126)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes256 Load<TCodec>(void* source) where TCodec : IElementCodec => new(TCodec.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store<TCodec>(void* destination, FloatLanes256 value) where TCodec : IElementCodec => TCodec.Store(destination, value.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DoubleLanes256 AddWidened(DoubleLanes256 sum, FloatLanes256 value)
    {
        return new(sum.Value + Vector256.WidenLower(value.Value) + Vector256.WidenUpper(value.Value));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sum(DoubleLanes256 sum) => Vector256.Sum(sum.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DoubleLanes256 LogWidened(FloatLanes256 value, out DoubleLanes256 upper)
    {
        upper = new(Vector256.Log(Vector256.WidenUpper(value.Value)));
        return new(Vector256.Log(Vector256.WidenLower(value.Value)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes256 ExpOfProduct(DoubleLanes256 logLower, DoubleLanes256 logUpper, FloatLanes256 g)
    {
        return new(Vector256.Narrow(Vector256.Exp(Vector256.WidenLower(g.Value) * logLower.Value),
                                    Vector256.Exp(Vector256.WidenUpper(g.Value) * logUpper.Value)));
    }
}

/// <summary>Sixteen float32 lanes (AVX-512).</summary>
internal readonly unsafe struct FloatLanes512(Vector512<float> value) : IFloatLanes<FloatLanes512, DoubleLanes512>
{
    public readonly Vector512<float> Value = value;

    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Create(float value) => new(Vector512.Create(value));
    public static FloatLanes512 Zero => new(Vector512<float>.Zero);
    public static FloatLanes512 One => new(Vector512<float>.One);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes512 FirstLanes(int count) =>
        new(Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(count)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator +(FloatLanes512 a, FloatLanes512 b) => new(a.Value + b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator -(FloatLanes512 a, FloatLanes512 b) => new(a.Value - b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator *(FloatLanes512 a, FloatLanes512 b) => new(a.Value * b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator /(FloatLanes512 a, FloatLanes512 b) => new(a.Value / b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator -(FloatLanes512 a) => new(-a.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator &(FloatLanes512 a, FloatLanes512 b) => new(a.Value & b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator |(FloatLanes512 a, FloatLanes512 b) => new(a.Value | b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 operator ~(FloatLanes512 a) => new(~a.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 MultiplyAdd(FloatLanes512 a, FloatLanes512 b, FloatLanes512 c) => new(Avx512F.FusedMultiplyAdd(a.Value, b.Value, c.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Min(FloatLanes512 a, FloatLanes512 b) => new(Avx512F.Min(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Max(FloatLanes512 a, FloatLanes512 b) => new(Avx512F.Max(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Abs(FloatLanes512 a) => new(Vector512.Abs(a.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Floor(FloatLanes512 a) => new(Vector512.Floor(a.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Select(FloatLanes512 mask, FloatLanes512 whereSet, FloatLanes512 whereClear) => new(Vector512.ConditionalSelect(mask.Value, whereSet.Value, whereClear.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Equal(FloatLanes512 a, FloatLanes512 b) => new(Vector512.Equals(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Less(FloatLanes512 a, FloatLanes512 b) => new(Vector512.LessThan(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 LessOrEqual(FloatLanes512 a, FloatLanes512 b) => new(Vector512.LessThanOrEqual(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Greater(FloatLanes512 a, FloatLanes512 b) => new(Vector512.GreaterThan(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 GreaterOrEqual(FloatLanes512 a, FloatLanes512 b) => new(Vector512.GreaterThanOrEqual(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool None(FloatLanes512 mask) => mask.Value.AsUInt32() == Vector512<uint>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool All(FloatLanes512 mask) => mask.Value.AsUInt32() == Vector512<uint>.AllBitsSet;

    /// <summary>vscalefps: value * 2^n in one instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes512 ScaleByPowerOfTwo(FloatLanes512 value, FloatLanes512 n) => new(Avx512F.Scale(value.Value, n.Value));

    /// <summary>vgetexpps and vgetmantps: exponent and mantissa in one instruction each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes512 Decompose(FloatLanes512 x, out FloatLanes512 mantissa)
    {
        // getexp gives floor(log2 x) for m in [1, 2); the [0.5, 1) convention of the polynomial needs one more.
        mantissa = new(Avx512F.GetMantissa(x.Value, 0b0010));
        return new(Avx512F.GetExponent(x.Value) + Vector512<float>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatLanes512 Load<TCodec>(void* source) where TCodec : IElementCodec => new(TCodec.Load512(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store<TCodec>(void* destination, FloatLanes512 value) where TCodec : IElementCodec => TCodec.Store512(destination, value.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DoubleLanes512 AddWidened(DoubleLanes512 sum, FloatLanes512 value)
    {
        return new(sum.Value + Vector512.WidenLower(value.Value) + Vector512.WidenUpper(value.Value));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sum(DoubleLanes512 sum) => Vector512.Sum(sum.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DoubleLanes512 LogWidened(FloatLanes512 value, out DoubleLanes512 upper)
    {
        upper = new(Vector512.Log(Vector512.WidenUpper(value.Value)));
        return new(Vector512.Log(Vector512.WidenLower(value.Value)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FloatLanes512 ExpOfProduct(DoubleLanes512 logLower, DoubleLanes512 logUpper, FloatLanes512 g)
    {
        return new(Vector512.Narrow(Vector512.Exp(Vector512.WidenLower(g.Value) * logLower.Value),
                                    Vector512.Exp(Vector512.WidenUpper(g.Value) * logUpper.Value)));
    }
}

/// <summary>
/// Four float64 lanes, the sums of <see cref="FloatLanes256"/>. A type of this assembly rather than Vector256&lt;double&gt;
/// itself: ReadyToRun only precompiles generic instantiations whose type arguments all belong to this assembly.
/// </summary>
internal readonly struct DoubleLanes256(Vector256<double> value)
{
    public readonly Vector256<double> Value = value;
}

/// <summary>Eight float64 lanes, the sums of <see cref="FloatLanes512"/> (see <see cref="DoubleLanes256"/>).</summary>
internal readonly struct DoubleLanes512(Vector512<double> value)
{
    public readonly Vector512<double> Value = value;
}
