using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AslCuda.Cpu;

/// <summary>
/// float32 exp and log over eight lanes (Cephes' polynomials, about 1 ulp), small enough to inline into the
/// fused loops. The BCL's Vector256.Exp/Log are calls into generic methods that start unoptimized under tiered
/// compilation; a loss that runs a few times per process would pay for that on every call.
/// </summary>
internal static class VectorMath
{
    /// <summary>e^x; results below float's normal range flush to 0, x &gt; 88 gives +inf (the fused loops pass x &lt;= 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(-87.33654f)), Vector256.Create(88f));
        // x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in two so that n ln2 is exact enough.
        var n = Vector256.Floor(clamped * Vector256.Create(1.44269504088896341f) + Vector256.Create(0.5f));
        var r = clamped - n * Vector256.Create(0.693359375f) - n * Vector256.Create(-2.12194440e-4f);
        var r2 = r * r;
        var poly = Vector256.Create(1.9875691500e-4f);
        poly = poly * r + Vector256.Create(1.3981999507e-3f);
        poly = poly * r + Vector256.Create(8.3334519073e-3f);
        poly = poly * r + Vector256.Create(4.1665795894e-2f);
        poly = poly * r + Vector256.Create(1.6666665459e-1f);
        poly = poly * r + Vector256.Create(5.0000001201e-1f);
        var expR = poly * r2 + r + Vector256<float>.One;
        var twoToN = (Vector256.ConvertToInt32(n) + Vector256.Create(127) << 23).AsSingle();
        var result = expR * twoToN;
        result = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(88f)), Vector256.Create(float.PositiveInfinity), result);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-87.33654f)), Vector256<float>.Zero, result);
    }

    /// <summary>Natural log for positive normal x (the only inputs the fused loops give it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var bits = x.AsInt32();
        // x = m 2^e with m in [sqrt(1/2), sqrt(2)), then log x = log m + e ln2.
        var e = Vector256.ConvertToSingle((bits >>> 23) - Vector256.Create(126));
        var m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F000000)).AsSingle();   // [0.5, 1)
        var small = Vector256.LessThan(m, Vector256.Create(0.707106781186547524f));
        e -= Vector256<float>.One & small;
        var f = m + (m & small) - Vector256<float>.One;
        var f2 = f * f;
        var poly = Vector256.Create(7.0376836292e-2f);
        poly = poly * f + Vector256.Create(-1.1514610310e-1f);
        poly = poly * f + Vector256.Create(1.1676998740e-1f);
        poly = poly * f + Vector256.Create(-1.2420140846e-1f);
        poly = poly * f + Vector256.Create(1.4249322787e-1f);
        poly = poly * f + Vector256.Create(-1.6668057665e-1f);
        poly = poly * f + Vector256.Create(2.0000714765e-1f);
        poly = poly * f + Vector256.Create(-2.4999993993e-1f);
        poly = poly * f + Vector256.Create(3.3333331174e-1f);
        var y = poly * f * f2 + e * Vector256.Create(-2.12194440e-4f) - f2 * Vector256.Create(0.5f);
        return f + y + e * Vector256.Create(0.693359375f);
    }
}
