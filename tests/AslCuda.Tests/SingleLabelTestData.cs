namespace AslCuda.Tests;

/// <summary>Fresh random single-label problems (ASL.md section 1's advice on inputs) and error measures.</summary>
internal static class SingleLabelTestData
{
    /// <summary>A generator with a new seed per call; the seed is written to the test output to replay a failure.</summary>
    public static Random NewRandom()
    {
        int seed = Random.Shared.Next();
        TestContext.Out.WriteLine($"random seed {seed}");
        return new Random(seed);
    }

    /// <summary>Logits spread over [-12, 12] with about 2% extreme values (+-30, +-100).</summary>
    public static double[] Logits(Random random, int rows, int classes)
    {
        var logits = new double[rows * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = random.NextDouble() < 0.02
                ? (random.Next(2) == 0 ? 30.0 : 100.0) * (random.Next(2) == 0 ? -1 : 1)
                : random.NextDouble() * 24 - 12;
        }
        return logits;
    }

    public static long[] Targets(Random random, int rows, int classes)
    {
        var targets = new long[rows];
        for (int n = 0; n < rows; n++) targets[n] = random.Next(classes);
        return targets;
    }

    /// <summary>||actual - expected|| / ||expected||; the expected values must not all be zero.</summary>
    public static double RelativeError(IReadOnlyList<double> actual, IReadOnlyList<double> expected)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Count));
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        Assert.That(norm, Is.GreaterThan(0), "the reference is all zeros; the comparison would mean nothing.");
        return Math.Sqrt(diff / norm);
    }

    /// <summary>
    /// Asserts ||actual - expected|| / ||expected|| &lt;= tolerance, or exact equality (NaN equal to NaN) where the
    /// reference has no nonzero value, as with a single class, whose loss and gradient are exactly 0.
    /// </summary>
    public static void AssertClose(IReadOnlyList<double> actual, IReadOnlyList<double> expected, double tolerance, string what)
    {
        if (expected.Any(v => v != 0 && double.IsFinite(v)))
        {
            double error = RelativeError(actual, expected);
            TestContext.Out.WriteLine($"{what}: relative error {error:E2}");
            Assert.That(error, Is.LessThanOrEqualTo(tolerance), what);
        }
        else
            Assert.That(actual, Is.EqualTo(expected).AsCollection, what);
    }

    /// <summary>Option sets that cover the paper defaults, focusing on both sides, whole and fractional gammas, no smoothing.</summary>
    public static IEnumerable<SingleLabelOptions> OptionCombinations()
    {
        foreach (var reduction in new[] { AslReduction.Mean, AslReduction.Sum, AslReduction.None })
        {
            yield return new SingleLabelOptions { Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 1, GammaNeg = 2, Eps = 0, Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 0.5, GammaNeg = 2.5, Eps = 0.2, Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 1.5, GammaNeg = 0, Eps = 0.1, Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 0, GammaNeg = 0, Eps = 0, Reduction = reduction };
        }
    }
}
