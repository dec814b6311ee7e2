namespace AslCuda.Reference;

/// <summary>Float64 helpers the oracles share.</summary>
internal static class ReferenceMath
{
    /// <summary>log(1 + u), accurate for tiny u: the rounding of 1 + u cancels in log(w) * u / (w - 1).</summary>
    public static double Log1p(double u)
    {
        double w = 1 + u;
        return w == 1 ? u : Math.Log(w) * u / (w - 1);
    }
}
