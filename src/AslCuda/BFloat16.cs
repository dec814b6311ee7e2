using System.Runtime.CompilerServices;

namespace AslCuda;

/// <summary>
/// A bfloat16 value (the upper 16 bits of a float32), the element type of bf16 tensors. Conversion from
/// float rounds to nearest even; NaN stays NaN.
/// </summary>
public readonly record struct BFloat16(ushort RawValue)
{
    public static explicit operator float(BFloat16 value) => BitConverter.Int32BitsToSingle(value.RawValue << 16);

    public static explicit operator BFloat16(float value) => new(RoundToBFloat16Bits(value));

    internal static ushort RoundToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    public override string ToString() => ((float)this).ToString();
}

/// <summary>Element types the ASL backends read and write.</summary>
public enum AslDataType
{
    Float32,
    Float64,
    Float16,
    BFloat16,
    /// <summary>Binary targets, one byte per element (also bool).</summary>
    UInt8,
}

/// <summary>Maps CLR element types to <see cref="AslDataType"/>.</summary>
public static class AslDataTypes
{
    public static AslDataType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? AslDataType.Float32
        : typeof(T) == typeof(double) ? AslDataType.Float64
        : typeof(T) == typeof(Half) ? AslDataType.Float16
        : typeof(T) == typeof(BFloat16) ? AslDataType.BFloat16
        : typeof(T) == typeof(byte) || typeof(T) == typeof(bool) ? AslDataType.UInt8
        : throw new NotSupportedException($"element type {typeof(T).Name} is not supported (float, double, Half, BFloat16, byte, bool).");

    public static int SizeOf(this AslDataType type) => type switch
    {
        AslDataType.Float32 => 4,
        AslDataType.Float64 => 8,
        AslDataType.Float16 or AslDataType.BFloat16 => 2,
        AslDataType.UInt8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static bool IsFloatingPoint(this AslDataType type) => type != AslDataType.UInt8;

    internal static void CheckSize<T>(AslDataType type) where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != type.SizeOf()) throw new InvalidOperationException("element size mismatch");
    }
}
