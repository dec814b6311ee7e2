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
