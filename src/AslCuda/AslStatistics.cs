namespace AslCuda;

/// <summary>
/// Probability statistics of one batch for adaptive asymmetry (ASL.md section 3): the sums of p over
/// positives and negatives and their counts. With soft targets each element counts y times as a positive
/// and 1 - y times as a negative, which for binary targets is the plain count.
/// </summary>
public readonly record struct AslStatistics(double SumPPositive, double CountPositive, double SumPNegative, double CountNegative)
{
    /// <summary>Mean of p over positives (NaN when there is none).</summary>
    public double MeanPPositive => SumPPositive / CountPositive;

    /// <summary>Mean of p over negatives (NaN when there is none).</summary>
    public double MeanPNegative => SumPNegative / CountNegative;

    /// <summary>The probability gap dp = mean p(positives) - mean p(negatives).</summary>
    public double Gap => MeanPPositive - MeanPNegative;
}
