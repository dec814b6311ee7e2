namespace AslCuda;

/// <summary>
/// Parameters of the single-label (softmax) asymmetric loss (ASL.md section 2), with the paper code's defaults.
/// Every value is checked when it is set, so an instance (and every <c>with</c> copy) is always valid.
/// </summary>
public sealed record SingleLabelOptions
{
    private readonly double _gammaPos = 0;
    private readonly double _gammaNeg = 4;
    private readonly double _eps = 0.1;

    /// <summary>Focusing exponent of the target class, weight (1 - P)^GammaPos; in [0, <see cref="AslOptions.MaxGamma"/>].</summary>
    public double GammaPos { get => _gammaPos; init => _gammaPos = CheckGamma(value, nameof(GammaPos)); }

    /// <summary>Focusing exponent of the other classes, weight P^GammaNeg; in [0, <see cref="AslOptions.MaxGamma"/>].</summary>
    public double GammaNeg { get => _gammaNeg; init => _gammaNeg = CheckGamma(value, nameof(GammaNeg)); }

    /// <summary>Label smoothing: the target becomes (1 - eps) on its class plus eps/C on every class; in [0, 1].</summary>
    public double Eps
    {
        get => _eps;
        init => _eps = value is >= 0 and <= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Eps), value, "eps (label smoothing) must lie in [0, 1].");
    }

    /// <summary>Reduction of the per-row losses: <see cref="AslReduction.Mean"/> is the mean over rows (the paper code's default).</summary>
    public AslReduction Reduction
    {
        get;
        init => field = Enum.IsDefined(value) && value != AslReduction.BatchMean
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Reduction), value,
                "single-label reduction must be None, Mean (over rows) or Sum; batchmean is the multi-label mean over rows.");
    } = AslReduction.Mean;

    /// <summary>True when both gammas are whole numbers, so that the weights are products, not pows.</summary>
    public bool HasIntegerGammas => AslOptions.IsSmallInteger(GammaPos) && AslOptions.IsSmallInteger(GammaNeg);

    private static double CheckGamma(double value, string name) => AslOptions.CheckGamma(value, name);
}
