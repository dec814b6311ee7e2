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
    /// <summary>
    /// Sum over classes, mean over the batch: the sum divided by the number of rows N (AslCuda's extension; the name is
    /// PyTorch's, from <c>KLDivLoss(reduction='batchmean')</c>). No official ASL class has it.
    /// </summary>
    BatchMean,
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

    /// <summary>
    /// Label smoothing s in [0, 1), an AslCuda extension (docs/extensions.md; no official ASL class has it): every target
    /// y becomes y(1 - s) + s/2 before anything else, the usual label smoothing with two outcomes per label, so binary
    /// targets become soft. 0 turns it off.
    /// </summary>
    public double Smoothing
    {
        get;
        init => field = value is >= 0 and < 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Smoothing), value, "smoothing must lie in [0, 1).");
    }

    /// <summary>
    /// Per-class rescaling of the loss, applied after focusing, an AslCuda extension (docs/extensions.md) that means what
    /// a [C] <c>weight</c> means to PyTorch's <c>BCEWithLogitsLoss</c>: one finite value &gt;= 0 per class; empty (the
    /// default) for none. The values are copied when set.
    /// </summary>
    public ReadOnlyMemory<float> ClassWeight
    {
        get;
        init => field = CheckFactors(value, nameof(ClassWeight));
    }

    /// <summary>
    /// Factor of the positive log term, applied before focusing, an AslCuda extension (docs/extensions.md) that means what
    /// <c>pos_weight</c> means to PyTorch's <c>BCEWithLogitsLoss</c> (for binary targets and no focusing, the two losses
    /// are equal): one finite value &gt;= 0 for every class, or one per class [C]; empty (the default) for none. The
    /// values are copied when set.
    /// </summary>
    public ReadOnlyMemory<float> PosWeight
    {
        get;
        init => field = CheckFactors(value, nameof(PosWeight));
    }

    /// <summary>True when any of AslCuda's extensions is in use: smoothing, pos_weight, per-class weight or batchmean.</summary>
    public bool HasExtensions => Smoothing > 0 || ClassWeight.Length > 0 || PosWeight.Length > 0 || Reduction == AslReduction.BatchMean;

    /// <summary>True when a per-class vector is set, so the class of each element (its column) matters.</summary>
    public bool HasClassFactors => ClassWeight.Length > 0 || PosWeight.Length > 1;

    /// <summary>
    /// Checks a call's shape against the options: <paramref name="count"/> elements of <paramref name="classes"/>
    /// columns each (rows of [N, C]). Per-class vectors must have C values (PosWeight may have one), and
    /// batchmean and the per-class vectors need C &gt; 0 dividing the count. Throws an ArgumentException that
    /// names the option and both numbers.
    /// </summary>
    public void CheckShape(long count, int classes)
    {
        bool needsClasses = HasClassFactors || Reduction == AslReduction.BatchMean;
        if (!needsClasses) return;
        if (classes <= 0 || count % classes != 0)
            throw new ArgumentException(
                $"{(HasClassFactors ? "per-class weights" : "reduction batchmean")} need the class count C of the [N, C] input; " +
                $"got C = {classes} for {count} elements.", nameof(classes));
        if (ClassWeight.Length > 0 && ClassWeight.Length != classes)
            throw new ArgumentException($"ClassWeight has {ClassWeight.Length} values but the input has {classes} classes.", nameof(ClassWeight));
        if (PosWeight.Length > 1 && PosWeight.Length != classes)
            throw new ArgumentException($"PosWeight has {PosWeight.Length} values but the input has {classes} classes (or give one value).", nameof(PosWeight));
    }

    /// <summary>Value equality, the per-class vectors compared by their values (a record would compare the buffers).</summary>
    public bool Equals(AslOptions? other) =>
        other is not null
        && (GammaNeg, GammaPos, Clip, Eps, DetachFocalWeight, Reduction, Smoothing)
            == (other.GammaNeg, other.GammaPos, other.Clip, other.Eps, other.DetachFocalWeight, other.Reduction, other.Smoothing)
        && ClassWeight.Span.SequenceEqual(other.ClassWeight.Span) && PosWeight.Span.SequenceEqual(other.PosWeight.Span);

    public override int GetHashCode() =>
        HashCode.Combine(GammaNeg, GammaPos, Clip, Eps, DetachFocalWeight, Reduction, Smoothing, ClassWeight.Length * 31 + PosWeight.Length);

    /// <summary>The options as text, the per-class vectors with their values.</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"GammaNeg = {GammaNeg}, GammaPos = {GammaPos}, Clip = {Clip}, Eps = {Eps}, DetachFocalWeight = {DetachFocalWeight}, Reduction = {Reduction}");
        if (Smoothing > 0) builder.Append($", Smoothing = {Smoothing}");
        if (!ClassWeight.IsEmpty) builder.Append($", ClassWeight = [{string.Join(", ", ClassWeight.ToArray())}]");
        if (!PosWeight.IsEmpty) builder.Append($", PosWeight = [{string.Join(", ", PosWeight.ToArray())}]");
        return true;
    }

    /// <summary>True when a focusing weight applies at all (either gamma is positive).</summary>
    public bool HasFocusing => GammaPos > 0 || GammaNeg > 0;

    /// <summary>True when both gammas are whole numbers, so that the weight is a product, not a pow.</summary>
    public bool HasIntegerGammas => IsSmallInteger(GammaPos) && IsSmallInteger(GammaNeg);

    internal static bool IsSmallInteger(double gamma) => gamma == Math.Floor(gamma) && gamma <= 64;

    private static ReadOnlyMemory<float> CheckFactors(ReadOnlyMemory<float> value, string name)
    {
        var span = value.Span;
        for (int i = 0; i < span.Length; i++)
            if (!float.IsFinite(span[i]) || span[i] < 0)
                throw new ArgumentOutOfRangeException(name, span[i], $"{name}[{i}] is {span[i]}: every value must be finite and >= 0.");
        return span.ToArray();
    }

    internal static double CheckGamma(double value, string name) =>
        value is >= 0 and <= MaxGamma
            ? value
            : throw new ArgumentOutOfRangeException(name, value,
                $"{name} must lie in [0, {MaxGamma:R}]: the fused passes form gamma * log(p) in float32, which overflows above that.");
}
