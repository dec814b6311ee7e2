namespace AslCuda.Tests.Support;

/// <summary>
/// Backward-error tolerance for float32 results: a result is right when it equals the exact function at inputs
/// moved by a few float32 ulps. The fused passes compute p and 1 - p from e^-|x| with a few ulps of relative
/// error, i.e. at a logit perturbed by a few eps in absolute terms, and they round the products of a soft
/// target (1 - y, the blended gamma, y log p), i.e. use a target perturbed by a few eps. Where the function is
/// ill-conditioned that perturbation moves the exact value far more than a relative tolerance allows: a
/// negative's (p - clip)^gamma with p just above the clip, a soft target's p - y cancelling, or the focal
/// weight's derivative cancelling the log term's at a soft target. Within <see cref="InputPerturbation"/> of a
/// clamp's kink the perturbed inputs straddle the jump, so either side is accepted.
/// </summary>
public static class BackwardError
{
    /// <summary>16 float32 ulps of 1 (2^-24 each), absolute on the logit and on a soft target.</summary>
    public const double InputPerturbation = 16.0 / (1 << 24);

    /// <summary>Below this both sides count as equal: float32 cannot hold the oracle's 1e-66.</summary>
    public const double Float32Underflow = 1e-35;

    /// <summary>
    /// c_i = scale * (max over +-delta of |f(x_i +- delta, y_i) - f(x_i, y_i)| + the same over y_i), with
    /// f(i, x, y) the oracle's element function (loss or gradient) of element i (whose class it may need), delta
    /// <see cref="InputPerturbation"/> and <paramref name="scale"/> what the reduction multiplies it by: to
    /// first order the most that moving both inputs by delta can change f. Binary targets are exact in float32
    /// and so are 1 - y and the products with them, so only soft targets are moved (and kept in [0, 1]).
    /// </summary>
    public static double[] ElementAllowance(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Func<int, double, double, double> f, double scale)
    {
        Assert.That(x.Length, Is.EqualTo(y.Length));
        const double Delta = InputPerturbation;
        var allowance = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i], yi = y[i], at = f(i, xi, yi);
            double moved = Math.Max(Math.Abs(f(i, xi + Delta, yi) - at), Math.Abs(f(i, xi - Delta, yi) - at));
            if (yi > 0 && yi < 1)
                moved += Math.Max(Math.Abs(f(i, xi, Math.Min(yi + Delta, 1)) - at), Math.Abs(f(i, xi, Math.Max(yi - Delta, 0)) - at));
            allowance[i] = scale * moved;
        }
        return allowance;
    }

    /// <summary>The allowance of a reduced (summed) value: the L1 sum of the element allowances.</summary>
    public static double[] ReducedAllowance(double[] elementAllowance) => [elementAllowance.Sum()];

    /// <summary>
    /// ||actual - expected|| &lt;= tolerance * ||expected|| + ||allowance||; elements where both sides are below
    /// <see cref="Float32Underflow"/> count as equal. A reference that is all zeros (e.g. 1x1 clipped away)
    /// must be met exactly: the comparison would otherwise prove nothing. The allowance is never negative, so it
    /// is only computed (several oracle calls per element) when the relative bound alone is not met.
    /// </summary>
    public static void AssertClose(double[] actual, double[] expected, double tolerance, Func<double[]> allowance, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what);
        if (!expected.Any(v => Math.Abs(v) >= Float32Underflow))
        {
            Assert.That(actual.All(v => Math.Abs(v) < Float32Underflow), what);
            return;
        }
        double diff = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (Math.Abs(actual[i]) < Float32Underflow && Math.Abs(expected[i]) < Float32Underflow) continue;
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
        }
        // A NaN must fail: NUnit orders NaN below every number, so Is.LessThanOrEqualTo would pass it.
        double error = double.IsNaN(diff) ? double.PositiveInfinity : Math.Sqrt(diff);
        double relativeBound = tolerance * TestData.Norm(expected);
        if (error <= relativeBound) return;
        double allowanceNorm = TestData.Norm(allowance());
        Assert.That(error, Is.LessThanOrEqualTo(relativeBound + allowanceNorm),
            $"{what}: ||actual - expected|| against {tolerance} * ||expected|| = {relativeBound:G3} plus the backward-error allowance {allowanceNorm:G3}");
    }
}
