namespace AslCuda;

/// <summary>Element types of class-index targets (single-label ASL): PyTorch's int64 (long) or int32.</summary>
public enum AslIndexType
{
    Int64,
    Int32,
}

/// <summary>Maps CLR integer types to <see cref="AslIndexType"/>.</summary>
public static class AslIndexTypes
{
    public static AslIndexType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(long) ? AslIndexType.Int64
        : typeof(T) == typeof(int) ? AslIndexType.Int32
        : throw new NotSupportedException($"class index type {typeof(T).Name} is not supported (long, int).");
}
