using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AslCuda.Cpu;

/// <summary>Loads and stores eight (Load, Store) or sixteen (Load512, Store512) elements of one storage type as float32 lanes.</summary>
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
    public static Vector256<float> Load(void* source) => Vector256.Load((float*)source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value) => value.Store((float*)destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source) => Vector512.Load((float*)source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value) => value.Store((float*)destination);
    public static float ToSingle(void* source, nint index) => ((float*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => ((float*)destination)[index] = value;
}

internal unsafe struct Float64Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source)
    {
        var d = (double*)source;
        return Vector256.Narrow(Vector256.Load(d), Vector256.Load(d + 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value)
    {
        var d = (double*)destination;
        var (lower, upper) = Vector256.Widen(value);
        lower.Store(d);
        upper.Store(d + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source)
    {
        var d = (double*)source;
        return Vector512.Narrow(Vector512.Load(d), Vector512.Load(d + 8));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value)
    {
        var d = (double*)destination;
        var (lower, upper) = Vector512.Widen(value);
        lower.Store(d);
        upper.Store(d + 8);
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
        var h = Vector256.WidenLower(Vector128.Load((ushort*)source).ToVector256Unsafe());
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
        var d = (Half*)destination;
        for (int i = 0; i < Vector256<float>.Count; i++) d[i] = (Half)value.GetElement(i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source) =>
        Vector512.Create(Load(source), Load((ushort*)source + Vector256<float>.Count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value)
    {
        Store(destination, value.GetLower());
        Store((ushort*)destination + Vector256<float>.Count, value.GetUpper());
    }

    public static float ToSingle(void* source, nint index) => (float)((Half*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => ((Half*)destination)[index] = (Half)value;
}

internal unsafe struct BFloat16Codec : IElementCodec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* source) =>
        (Vector256.WidenLower(Vector128.Load((ushort*)source).ToVector256Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* destination, Vector256<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256.Create(1u))) >> 16;
        var quietNaN = (bits >> 16) | Vector256.Create(0x40u);
        var isNaN = ~Vector256.Equals(value, value).AsUInt32();
        var result = Vector256.ConditionalSelect(isNaN, quietNaN, rounded);
        Vector256.Narrow(result, result).GetLower().Store((ushort*)destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(void* source) =>
        (Vector512.WidenLower(Vector256.Load((ushort*)source).ToVector512Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512.Create(1u))) >> 16;
        var quietNaN = (bits >> 16) | Vector512.Create(0x40u);
        var isNaN = ~Vector512.Equals(value, value).AsUInt32();
        var result = Vector512.ConditionalSelect(isNaN, quietNaN, rounded);
        Vector512.Narrow(result, result).GetLower().Store((ushort*)destination);
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
        var words = Vector256.WidenLower(Vector128.Load((byte*)source).ToVector256Unsafe());
        return Vector512.ConvertToSingle(Vector512.WidenLower(words.ToVector512Unsafe()).AsInt32());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(void* destination, Vector512<float> value) => throw new NotSupportedException("targets are never written");
    public static float ToSingle(void* source, nint index) => ((byte*)source)[index];
    public static void FromSingle(void* destination, nint index, float value) => throw new NotSupportedException("targets are never written");
}
