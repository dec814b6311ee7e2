namespace AslCuda.Tests.Support;

/// <summary>Random inputs (the seed is printed so a failure can be replayed) and error measures.</summary>
public static class TestData
{
    /// <summary>
    /// A random source for the current test. By default its seed comes from the test's full name, so every run (CI
    /// included) sees the same inputs and a result never depends on the draw. ASLCUDA_TEST_SEED=random draws fresh
    /// seeds to explore more inputs (tests/seed-sweep.sh); ASLCUDA_TEST_SEED=N replays one.
    /// </summary>
    public static Random NewRandom()
    {
        string? requested = Environment.GetEnvironmentVariable("ASLCUDA_TEST_SEED");
        int seed = requested switch
        {
            null or "" => SeedFromName(TestContext.CurrentContext.Test.FullName),
            "random" => Random.Shared.Next(),
            _ when int.TryParse(requested, out int fixedSeed) => fixedSeed,
            _ => throw new ArgumentException($"ASLCUDA_TEST_SEED is '{requested}': set an integer, 'random', or nothing."),
        };
        TestContext.Out.WriteLine($"random seed {seed} (replay with ASLCUDA_TEST_SEED={seed})");
        return new Random(seed);
    }

    /// <summary>FNV-1a of the name: string.GetHashCode is randomized per process, this is the same in every run.</summary>
    private static int SeedFromName(string name)
    {
        uint hash = 2166136261;
        foreach (char c in name) hash = (hash ^ c) * 16777619;
        return (int)(hash & int.MaxValue);
    }

    /// <summary>The logit where p = 0.05, the clip the tests use: the gradient jumps there (clamp(max=1)).</summary>
    public static readonly double ClipKinkLogit = Math.Log(0.05 / 0.95);

    /// <summary>
    /// Logits mostly in [-12, 12] with a few at +-30 and +-100, as ASL.md asks. None lies within 1e-4 of the
    /// clip kink: there float32 and float64 may fall on different sides of the jump, and a single element
    /// would then decide a whole comparison.
    /// </summary>
    public static double[] Logits(Random random, int count)
    {
        var x = new double[count];
        for (int i = 0; i < count; i++)
        {
            double u = random.NextDouble();
            double v;
            do v = random.NextDouble() * 24 - 12; while (Math.Abs(v - ClipKinkLogit) < 1e-4);
            x[i] = u < 0.01 ? (random.Next(2) == 0 ? -30 : 30)
                 : u < 0.02 ? (random.Next(2) == 0 ? -100 : 100)
                 : v;
        }
        return x;
    }

    /// <summary>Binary targets with about one positive in <paramref name="positiveRate"/>^-1.</summary>
    public static double[] BinaryTargets(Random random, int count, double positiveRate = 0.2)
    {
        var y = new double[count];
        for (int i = 0; i < count; i++) y[i] = random.NextDouble() < positiveRate ? 1 : 0;
        return y;
    }

    /// <summary>Soft targets: a mix of exact 0, exact 1 and values in between.</summary>
    public static double[] SoftTargets(Random random, int count)
    {
        var y = new double[count];
        for (int i = 0; i < count; i++)
        {
            double u = random.NextDouble();
            y[i] = u < 0.3 ? 0 : u < 0.5 ? 1 : random.NextDouble();
        }
        return y;
    }

    /// <summary>
    /// ||actual - expected|| / ||expected||, never against an all-zero reference. Elements where both sides are
    /// below <paramref name="underflow"/> count as equal: float32 cannot hold the oracle's 1e-66.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, double underflow = 0)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length));
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            norm += expected[i] * expected[i];
            if (Math.Abs(actual[i]) < underflow && Math.Abs(expected[i]) < underflow) continue;
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
        }
        Assert.That(norm, Is.GreaterThan(0), "reference is all zeros: the comparison would prove nothing");
        // A NaN on either side must fail the caller's Is.LessThanOrEqualTo(tolerance): NUnit orders NaN below every
        // number (double.CompareTo), so a NaN error would pass it.
        return double.IsNaN(diff) ? double.PositiveInfinity : Math.Sqrt(diff / norm);
    }

    public static double Norm(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (double v in values) sum += v * v;
        return Math.Sqrt(sum);
    }

    public static double RelativeError(double actual, double expected) => RelativeError([actual], [expected]);

    public static float[] ToSingle(double[] values) => Array.ConvertAll(values, v => (float)v);

    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>All option combinations the tests sweep: gammas integer and not, clip on and off, both gradient modes.</summary>
    public static IEnumerable<AslOptions> OptionGrid(AslReduction reduction)
    {
        foreach (var (gammaNeg, gammaPos) in new[] { (4.0, 1.0), (4.0, 0.0), (0.0, 0.0), (2.5, 1.5), (2.0, 2.0) })
        foreach (double clip in new[] { 0.05, 0.0 })
        foreach (bool detach in new[] { true, false })
            yield return new AslOptions { GammaNeg = gammaNeg, GammaPos = gammaPos, Clip = clip, DetachFocalWeight = detach, Reduction = reduction };
    }
}
