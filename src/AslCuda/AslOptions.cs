namespace AslCuda;

/// <summary>How the per-element losses are reduced (PyTorch's <c>reduction</c>).</summary>
public enum AslReduction
{
    /// <summary>No reduction: one loss per element, shape [N, C].</summary>
    None,
    /// <summary>Mean over all N*C elements.</summary>
    Mean,
    /// <summary>Sum over all elements (the paper code's default).</summary>
    Sum,
}

/// <summary>
/// Parameters of the multi-label asymmetric loss (ASL.md section 1), with the paper code's defaults.
/// Every value is checked when it is set, so an instance (and every <c>with</c> copy) is always valid.
/// </summary>
public sealed record AslOptions
{
    private readonly double _gammaNeg = 4;
    private readonly double _gammaPos = 1;
    private readonly double _clip = 0.05;
    private readonly double _eps = 1e-8;

    /// <summary>Focusing exponent for negatives (y = 0); finite and &gt;= 0.</summary>
    public double GammaNeg { get => _gammaNeg; init => _gammaNeg = CheckGamma(value, nameof(GammaNeg)); }

    /// <summary>Focusing exponent for positives (y = 1); finite and &gt;= 0.</summary>
    public double GammaPos { get => _gammaPos; init => _gammaPos = CheckGamma(value, nameof(GammaPos)); }

    /// <summary>Probability margin added to 1 - p for negatives; in [0, 1). 0 turns clipping off.</summary>
    public double Clip
    {
        get => _clip;
        init => _clip = value is >= 0 and < 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Clip), value, "clip must lie in [0, 1).");
    }

    /// <summary>Lower clamp of the probabilities inside the logs; in (0, 1).</summary>
    public double Eps
    {
        get => _eps;
        init => _eps = value is > 0 and < 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Eps), value, "eps must lie in (0, 1).");
    }

    /// <summary>
    /// True (the paper code's default, <c>disable_torch_grad_focal_loss</c>): the focusing weight is a
    /// constant for the gradient. False: the gradient flows through the weight too.
    /// </summary>
    public bool DetachFocalWeight { get; init; } = true;

    /// <summary>Reduction of the per-element losses; the paper code sums.</summary>
    public AslReduction Reduction
    {
        get;
        init => field = Enum.IsDefined(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Reduction), value, "unknown reduction.");
    } = AslReduction.Sum;

    /// <summary>True when a focusing weight applies at all (either gamma is positive).</summary>
    public bool HasFocusing => GammaPos > 0 || GammaNeg > 0;

    /// <summary>True when both gammas are whole numbers, so that the weight is a product, not a pow.</summary>
    public bool HasIntegerGammas => IsSmallInteger(GammaPos) && IsSmallInteger(GammaNeg);

    internal static bool IsSmallInteger(double gamma) => gamma == Math.Floor(gamma) && gamma <= 64;

    private static double CheckGamma(double value, string name) =>
        double.IsFinite(value) && value >= 0
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite and >= 0.");
}
