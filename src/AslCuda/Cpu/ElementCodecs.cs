using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AslCuda.Cpu;

/// <summary>
/// Loads and stores eight (Load, Store) or sixteen (Load512, Store512) elements of one storage type as float32 lanes.
/// Memory goes through pointer dereferences, not Vector256.Load/Store: ReadyToRun code calls those (a call per load,
/// twice as slow a loop), where the JIT turns both into one unaligned move.
/// </summary>
internal unsafe interface IElementCodec
{
    static abstract Vector256<float> Load(void* source);
    static abstract void Store(void* destination, Vector256<float> value);
    static abstract Vector512<float> Load512(void* source);
    static abstract void Store512(void* destination, Vector512<float> value);
    static abstract float ToSingle(void* source, nint index);
    static abstract void FromSingle(void* destination, nint index, float value);
}

internal unsafe struct Float32Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source) => *(Vector256<float>*)source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value) => *(Vector256<float>*)destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source) => *(Vector512<float>*)source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value) => *(Vector512<float>*)destination = value;
    public static float ToSingle(void* source, nint index) => ((float*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => ((float*)destination)[index] = value;
}

internal unsafe struct Float64Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source)
    {
        var d = (double*)source;
        return Vector256.Narrow(*(Vector256<double>*)d, *(Vector256<double>*)(d + 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value)
    {
        var d = (double*)destination;
        *(Vector256<double>*)d = Vector256.WidenLower(value);
        *(Vector256<double>*)(d + 4) = Vector256.WidenUpper(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source)
    {
        var d = (double*)source;
        return Vector512.Narrow(*(Vector512<double>*)d, *(Vector512<double>*)(d + 8));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value)
    {
        var d = (double*)destination;
        *(Vector512<double>*)d = Vector512.WidenLower(value);
        *(Vector512<double>*)(d + 8) = Vector512.WidenUpper(value);
    }

    public static float ToSingle(void* source, nint index) => (float)((double*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => ((double*)destination)[index] = value;
}

/// <summary>IEEE half; widening is exact bit arithmetic (subnormals, inf and NaN included).</summary>
internal unsafe struct Float16Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source)
    {
        var h = Vector256.WidenLower((*(Vector128<ushort>*)source).ToVector256Unsafe());
        var magnitude = h & Vector256.Create(0x7FFFu);
        var shifted = magnitude << 13;
        // Rebias the exponent by multiplying by 2^112; this also normalizes subnormals exactly.
        var finite = shifted.AsSingle() * Vector256.Create(BitConverter.Int32BitsToSingle(0x77800000));
        var special = (shifted | Vector256.Create(0x7F800000u)).AsSingle();     // inf, NaN
        var isSpecial = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x7C00u)).AsSingle();
        var sign = ((h & Vector256.Create(0x8000u)) << 16).AsSingle();
        return Vector256.ConditionalSelect(isSpecial, special, finite) | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value)
    {
        var bits = value.AsUInt32();
        var magnitude = bits & Vector256.Create(0x7FFFFFFFu);
        var normal = (magnitude + Vector256.Create(NormalRebias) + ((magnitude >> 13) & Vector256<uint>.One)) >> 13;
        var subnormal = (magnitude.AsSingle() + Vector256.Create(SubnormalMagic)).AsUInt32() - Vector256.Create(SubnormalMagic).AsUInt32();
        var nanOrInfinity = Vector256.Create(0x7C00u) | (Vector256.GreaterThan(magnitude, Vector256.Create(0x7F800000u)) & (Vector256.Create(0x200u) | ((magnitude >> 13) & Vector256.Create(0x3FFu))));
        var result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(HalfOverflowBits)), nanOrInfinity,
            Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(HalfNormalBits)), subnormal, normal));
        result |= (bits >> 16) & Vector256.Create(0x8000u);
        *(Vector128<ushort>*)destination = Vector256.Narrow(result, result).GetLower();
    }

    // float to half in lanes, rounding to nearest even as (Half)float does. From 2^16 (HalfOverflowBits) on: inf,
    // or NaN with its sign and top payload bits, made quiet ([65520, 2^16) reaches inf by the normal path's carry).
    // Below 2^-14 (HalfNormalBits) the half is subnormal: adding 0.5 (SubnormalMagic, whose ulp is half's smallest
    // subnormal) rounds it in the float adder. In between: rebias the exponent, round the 13 dropped bits by hand.
    private const uint HalfOverflowBits = (127 + 16) << 23, HalfNormalBits = (127 - 14) << 23;
    private const uint NormalRebias = unchecked((uint)((15 - 127) << 23) + 0xFFF);
    private const float SubnormalMagic = 0.5f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source)
    {
        var h = Vector512.WidenLower((*(Vector256<ushort>*)source).ToVector512Unsafe());
        var magnitude = h & Vector512.Create(0x7FFFu);
        var shifted = magnitude << 13;
        var finite = shifted.AsSingle() * Vector512.Create(BitConverter.Int32BitsToSingle(0x77800000));
        var special = (shifted | Vector512.Create(0x7F800000u)).AsSingle();
        var isSpecial = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x7C00u)).AsSingle();
        var sign = ((h & Vector512.Create(0x8000u)) << 16).AsSingle();
        return Vector512.ConditionalSelect(isSpecial, special, finite) | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value)
    {
        var bits = value.AsUInt32();
        var magnitude = bits & Vector512.Create(0x7FFFFFFFu);
        var normal = (magnitude + Vector512.Create(NormalRebias) + ((magnitude >> 13) & Vector512<uint>.One)) >> 13;
        var subnormal = (magnitude.AsSingle() + Vector512.Create(SubnormalMagic)).AsUInt32() - Vector512.Create(SubnormalMagic).AsUInt32();
        var nanOrInfinity = Vector512.Create(0x7C00u) | (Vector512.GreaterThan(magnitude, Vector512.Create(0x7F800000u)) & (Vector512.Create(0x200u) | ((magnitude >> 13) & Vector512.Create(0x3FFu))));
        var result = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(HalfOverflowBits)), nanOrInfinity,
            Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(HalfNormalBits)), subnormal, normal));
        result |= (bits >> 16) & Vector512.Create(0x8000u);
        *(Vector256<ushort>*)destination = Avx512F.ConvertToVector256UInt16(result);
    }

    public static float ToSingle(void* source, nint index) => (float)((Half*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => ((Half*)destination)[index] = (Half)value;
}

internal unsafe struct BFloat16Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source) =>
        (Vector256.WidenLower((*(Vector128<ushort>*)source).ToVector256Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256.Create(1u))) >> 16;
        var quietNaN = (bits >> 16) | Vector256.Create(0x40u);
        var isNaN = ~Vector256.Equals(value, value).AsUInt32();
        var result = Vector256.ConditionalSelect(isNaN, quietNaN, rounded);
        *(Vector128<ushort>*)destination = Vector256.Narrow(result, result).GetLower();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source) =>
        (Vector512.WidenLower((*(Vector256<ushort>*)source).ToVector512Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512.Create(1u))) >> 16;
        var quietNaN = (bits >> 16) | Vector512.Create(0x40u);
        var isNaN = ~Vector512.Equals(value, value).AsUInt32();
        var result = Vector512.ConditionalSelect(isNaN, quietNaN, rounded);
        *(Vector256<ushort>*)destination = Avx512F.ConvertToVector256UInt16(result);
    }

    public static float ToSingle(void* source, nint index) => (float)((BFloat16*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => ((BFloat16*)destination)[index] = (BFloat16)value;
}

/// <summary>Binary targets stored as bytes (uint8 or bool tensors).</summary>
internal unsafe struct UInt8Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source)
    {
        var bytes = Vector128.CreateScalarUnsafe(*(ulong*)source).AsByte();
        var words = Vector128.WidenLower(bytes);
        return Vector256.ConvertToSingle(Vector256.WidenLower(words.ToVector256Unsafe()).AsInt32());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value) => throw new NotSupportedException("targets are never written");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source)
    {
        var words = Vector256.WidenLower((*(Vector128<byte>*)source).ToVector256Unsafe());
        return Vector512.ConvertToSingle(Vector512.WidenLower(words.ToVector512Unsafe()).AsInt32());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value) => throw new NotSupportedException("targets are never written");
    public static float ToSingle(void* source, nint index) => ((byte*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => throw new NotSupportedException("targets are never written");
}
