using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AslCuda.Cpu;

/// <summary>
/// float32 exp and log over SIMD lanes (Cephes' polynomials, about 1 ulp), small enough to inline into the
/// fused loops. The BCL's Vector256.Exp/Log are calls into generic methods that start unoptimized under tiered
/// compilation; a loss that runs a few times per process would pay for that on every call.
/// The polynomials use fused multiply-adds where the hardware has them (one rounding instead of two).
/// </summary>
internal static class VectorMath
{
    private const float MinNormalLog = -87.33654f;   // ln(float.MinNormal)

    /// <summary>e^x; results below float's normal range flush to 0, x &gt; 88 gives +inf.</summary>
    public static Vector256<float> Exp(Vector256<float> x) => Exp<FloatLanes256, DoubleLanes256>(new(x)).Value;

    /// <summary>Natural log for positive normal x.</summary>
    public static Vector256<float> Log(Vector256<float> x) => Log<FloatLanes256, DoubleLanes256>(new(x)).Value;

    /// <summary>e^x; results below float's normal range flush to 0, x &gt; 88 gives +inf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TLanes Exp<TLanes, TWide>(TLanes x) where TLanes : unmanaged, IFloatLanes<TLanes, TWide> where TWide : unmanaged
    {
        var result = ExpOfNonPositive<TLanes, TWide>(TLanes.Min(x, TLanes.Create(88f)));
        return TLanes.Select(TLanes.Greater(x, TLanes.Create(88f)), TLanes.Create(float.PositiveInfinity), result);
    }

    /// <summary>
    /// e^x for x &lt;= 88 (the fused loops pass x = -|logit|): the +inf branch of <see cref="Exp{TLanes,TWide}"/>
    /// left out. Results below float's normal range flush to 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TLanes ExpOfNonPositive<TLanes, TWide>(TLanes x) where TLanes : unmanaged, IFloatLanes<TLanes, TWide> where TWide : unmanaged
    {
        var clamped = TLanes.Max(x, TLanes.Create(MinNormalLog));
        // x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in two so that n ln2 is exact enough.
        var n = TLanes.Floor(TLanes.MultiplyAdd(clamped, TLanes.Create(1.44269504088896341f), TLanes.Create(0.5f)));
        var r = TLanes.MultiplyAdd(n, TLanes.Create(-0.693359375f), clamped);
        r = TLanes.MultiplyAdd(n, TLanes.Create(2.12194440e-4f), r);
        var r2 = r * r;
        var poly = TLanes.Create(1.9875691500e-4f);
        poly = TLanes.MultiplyAdd(poly, r, TLanes.Create(1.3981999507e-3f));
        poly = TLanes.MultiplyAdd(poly, r, TLanes.Create(8.3334519073e-3f));
        poly = TLanes.MultiplyAdd(poly, r, TLanes.Create(4.1665795894e-2f));
        poly = TLanes.MultiplyAdd(poly, r, TLanes.Create(1.6666665459e-1f));
        poly = TLanes.MultiplyAdd(poly, r, TLanes.Create(5.0000001201e-1f));
        var expR = TLanes.MultiplyAdd(poly, r2, r) + TLanes.One;
        var result = TLanes.ScaleByPowerOfTwo(expR, n);
        return result & ~TLanes.Less(x, TLanes.Create(MinNormalLog));
    }

    /// <summary>Natural log for positive normal x (the only inputs the fused loops give it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TLanes Log<TLanes, TWide>(TLanes x) where TLanes : unmanaged, IFloatLanes<TLanes, TWide> where TWide : unmanaged
    {
        // x = m 2^e with m in [sqrt(1/2), sqrt(2)), then log x = log m + e ln2.
        var e = TLanes.Decompose(x, out var m);                                 // m in [0.5, 1)
        var small = TLanes.Less(m, TLanes.Create(0.707106781186547524f));
        e -= TLanes.One & small;
        var f = m + (m & small) - TLanes.One;
        var f2 = f * f;
        var poly = TLanes.Create(7.0376836292e-2f);
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(-1.1514610310e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(1.1676998740e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(-1.2420140846e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(1.4249322787e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(-1.6668057665e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(2.0000714765e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(-2.4999993993e-1f));
        poly = TLanes.MultiplyAdd(poly, f, TLanes.Create(3.3333331174e-1f));
        var y = TLanes.MultiplyAdd(poly * f, f2, e * TLanes.Create(-2.12194440e-4f));
        y = TLanes.MultiplyAdd(f2, TLanes.Create(-0.5f), y);
        return TLanes.MultiplyAdd(e, TLanes.Create(0.693359375f), f + y);
    }
}
