using System.Runtime.Intrinsics;
using AslCuda.Cpu;

namespace AslCuda.Tests.Cpu;

/// <summary>The vectorized stores against .NET's scalar conversions, bit for bit.</summary>
public unsafe class ElementCodecTests
{
    [Test]
    public void HalfStoreRoundsLikeTheConversionOperator([Values(256, 512)] int bits)
    {
        if (bits == 512 && !Vector512.IsHardwareAccelerated) Assert.Ignore("no AVX-512 on this machine");
        // A stride through every float bit pattern (both signs, subnormals, inf, NaN payloads), and the edges of
        // half's range: the largest half, the overflow threshold 65520, half's smallest subnormal and ties around them.
        var values = new List<float>();
        for (long b = 0; b <= uint.MaxValue; b += 4099) values.Add(BitConverter.UInt32BitsToSingle((uint)b));
        foreach (float edge in new[] { 65504f, 65519.996f, 65520f, 65536f, 6.1035156e-5f, 6.097555e-5f, 5.9604645e-8f,
                     2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 1.0004883f, 1.0014648f, 0f, float.Epsilon, float.MaxValue,
                     float.PositiveInfinity, float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001), BitConverter.UInt32BitsToSingle(0xFFC12345) })
        {
            values.Add(edge);
            values.Add(-edge);
        }
        while (values.Count % 16 != 0) values.Add(1f);

        var floats = values.ToArray();
        var halves = new Half[floats.Length];
        fixed (float* source = floats)
        fixed (Half* destination = halves)
        {
            for (int i = 0; i < floats.Length; i += 16)
            {
                if (bits == 512)
                    Float16Codec.Store512(destination + i, Vector512.Load(source + i));
                else
                {
                    Float16Codec.Store(destination + i, Vector256.Load(source + i));
                    Float16Codec.Store(destination + i + 8, Vector256.Load(source + i + 8));
                }
            }
        }
        for (int i = 0; i < floats.Length; i++)
        {
            ushort expected = BitConverter.HalfToUInt16Bits((Half)floats[i]);
            ushort actual = BitConverter.HalfToUInt16Bits(halves[i]);
            if (actual != expected)
                Assert.Fail($"float {floats[i]:R} (bits {BitConverter.SingleToUInt32Bits(floats[i]):X8}): half bits {actual:X4}, expected {expected:X4}");
        }
    }
}
