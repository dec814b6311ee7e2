namespace AslCuda.Tests.Support;

/// <summary>Single-label additions to <see cref="TestData"/>: class targets, option sets, and the comparison.</summary>
public static class SingleLabelTestData
{
    public static long[] Targets(Random random, int rows, int classes)
    {
        var targets = new long[rows];
        for (int n = 0; n < rows; n++) targets[n] = random.Next(classes);
        return targets;
    }

    /// <summary>
    /// Asserts ||actual - expected|| / ||expected|| &lt;= tolerance, or exact equality (NaN equal to NaN) where the
    /// reference has no nonzero value, as with a single class, whose loss and gradient are exactly 0.
    /// </summary>
    public static void AssertClose(double[] actual, double[] expected, double tolerance, string what)
    {
        if (expected.Any(v => v != 0 && double.IsFinite(v)))
        {
            double error = TestData.RelativeError(actual, expected);
            TestContext.Out.WriteLine($"{what}: relative error {error:E2}");
            Assert.That(error, Is.LessThanOrEqualTo(tolerance), what);
        }
        else
            Assert.That(actual, Is.EqualTo(expected).AsCollection, what);
    }

    /// <summary>
    /// Option sets that cover the paper defaults, focusing on both sides, whole and fractional gammas, no smoothing.
    /// A gamma_pos in (0, 1) is left to tests that control the logits: where P_t rounds to 1 the oracle's gradient,
    /// like the paper formula's, is NaN (see <see cref="AslCuda.Cpu.SingleLabelCpu"/>).
    /// </summary>
    public static IEnumerable<SingleLabelOptions> OptionGrid()
    {
        foreach (var reduction in new[] { AslReduction.Mean, AslReduction.Sum, AslReduction.None })
        {
            yield return new SingleLabelOptions { Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 1, GammaNeg = 2, Eps = 0, Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 1.5, GammaNeg = 2.5, Eps = 0.2, Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 3, GammaNeg = 0.5, Eps = 0.1, Reduction = reduction };
            yield return new SingleLabelOptions { GammaPos = 0, GammaNeg = 0, Eps = 0, Reduction = reduction };
        }
    }
}
