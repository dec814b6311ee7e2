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

    /// <summary>Focusing exponent for negatives (y = 0); in [0, <see cref="MaxGamma"/>].</summary>
    public double GammaNeg { get => _gammaNeg; init => _gammaNeg = CheckGamma(value, nameof(GammaNeg)); }

    /// <summary>Focusing exponent for positives (y = 1); in [0, <see cref="MaxGamma"/>].</summary>
    public double GammaPos { get => _gammaPos; init => _gammaPos = CheckGamma(value, nameof(GammaPos)); }

    /// <summary>Probability margin added to 1 - p for negatives; in [0, 1). 0 turns clipping off.</summary>
    public double Clip
    {
        get => _clip;
        init => _clip = value is >= 0 and < 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Clip), value, "clip must lie in [0, 1).");
    }

    /// <summary>
    /// Lower clamp of the probabilities inside the logs; in [<see cref="MinEps"/>, 1). The fused passes clamp in
    /// float32, where a smaller eps would round to a subnormal or to 0 and log(0) turns the gradients of logits near
    /// +-100 NaN.
    /// </summary>
    public double Eps
    {
        get => _eps;
        init => _eps = value is >= MinEps and < 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Eps), value,
                $"eps must lie in [{MinEps:R}, 1): the fused passes clamp in float32, whose smallest normal value is {MinEps:R}.");
    }

    /// <summary>The smallest eps float32 math honours: float's smallest normal value, 2^-126.</summary>
    public const double MinEps = 1.1754943508222875E-38;

    /// <summary>
    /// The largest gamma float32 math honours: the passes form gamma * log(b) for bases down to float's smallest
    /// subnormal (|log b| &lt; 104) and gamma times logit differences, which must stay below float's 3.4e38.
    /// </summary>
    public const double MaxGamma = 1e36;

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

    internal static double CheckGamma(double value, string name) =>
        value is >= 0 and <= MaxGamma
            ? value
            : throw new ArgumentOutOfRangeException(name, value,
                $"{name} must lie in [0, {MaxGamma:R}]: the fused passes form gamma * log(p) in float32, which overflows above that.");
}
