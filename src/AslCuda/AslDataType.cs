namespace AslCuda;

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
}
