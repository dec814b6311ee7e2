namespace AslCuda.TorchSharp;

/// <summary>
/// Adaptive asymmetry (ASL.md section 3): after each training step, moves gamma_neg of an
/// <see cref="AsymmetricLoss"/> towards the value that gives a target probability gap
/// dp = mean p(positives) - mean p(negatives):
/// <code>gamma_neg = clamp(gamma_neg + step * (targetGap - dp), gammaMin, gammaMax)</code>
/// dp comes from the statistics the loss already produced in its forward pass (the fused pass computes them
/// while it reads the logits; the Composed backend with TorchSharp ops), so the controller reads no tensor.
/// A gap below the target means negatives still pull positives down, so gamma_neg grows and easy negatives
/// weigh less; a gap above it lets gamma_neg shrink.
/// </summary>
public sealed class AdaptiveAsymmetry
{
    /// <summary>Controls <paramref name="loss"/>; turns on its <see cref="AsymmetricLoss.TrackStatistics"/>.</summary>
    /// <param name="loss">The loss whose gamma_neg this controller sets.</param>
    /// <param name="targetGap">dp_target, in (-1, 1).</param>
    /// <param name="step">lambda, the change of gamma_neg per unit of gap error; finite and &gt; 0.</param>
    /// <param name="gammaMin">Lower bound of gamma_neg; finite and &gt;= 0.</param>
    /// <param name="gammaMax">Upper bound of gamma_neg; in [<paramref name="gammaMin"/>, <see cref="AslOptions.MaxGamma"/>].</param>
    public AdaptiveAsymmetry(AsymmetricLoss loss, double targetGap, double step, double gammaMin = 0, double gammaMax = 8)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (!(targetGap > -1 && targetGap < 1))
            throw new ArgumentOutOfRangeException(nameof(targetGap), targetGap, "the target gap must lie in (-1, 1): it is a difference of mean probabilities.");
        if (!(double.IsFinite(step) && step > 0))
            throw new ArgumentOutOfRangeException(nameof(step), step, "the step must be finite and > 0.");
        if (!(double.IsFinite(gammaMin) && gammaMin >= 0))
            throw new ArgumentOutOfRangeException(nameof(gammaMin), gammaMin, "gammaMin must be finite and >= 0.");
        if (!(gammaMax >= gammaMin && gammaMax <= AslOptions.MaxGamma))
            throw new ArgumentOutOfRangeException(nameof(gammaMax), gammaMax,
                $"gammaMax must lie in [gammaMin ({gammaMin}), {AslOptions.MaxGamma:R}]: above that float32 math cannot honour gamma_neg.");

        Loss = loss;
        TargetGap = targetGap;
        Step = step;
        GammaMin = gammaMin;
        GammaMax = gammaMax;
        loss.TrackStatistics = true;
    }

    public AsymmetricLoss Loss { get; }
    public double TargetGap { get; }
    public double Step { get; }
    public double GammaMin { get; }
    public double GammaMax { get; }

    /// <summary>The gap of the batch used by the last <see cref="Update()"/> (NaN before the first, or when that batch had no positives or no negatives).</summary>
    public double LastGap { get; private set; } = double.NaN;

    /// <summary>
    /// Applies one update from the statistics of the loss's last forward on this thread and returns the new
    /// gamma_neg. Call it once per step, after the forward, on the thread that ran it. A batch without positives or
    /// without negatives, or with a NaN logit, has no gap and leaves gamma_neg as it is.
    /// </summary>
    public double Update()
    {
        var statistics = Loss.LastStatistics
            ?? throw new InvalidOperationException(
                "the loss has no statistics from a forward on this thread (none yet, or the last one threw): call Update after a successful forward of the controlled loss.");
        return Update(statistics);
    }

    /// <summary>As <see cref="Update()"/>, from statistics the caller kept (e.g. of a forward on another thread).</summary>
    public double Update(AslStatistics statistics)
    {
        LastGap = statistics.Gap;
        if (double.IsFinite(LastGap))
            Loss.GammaNeg = NextGammaNeg(Loss.GammaNeg, LastGap);
        return Loss.GammaNeg;
    }

    /// <summary>The update rule of ASL.md section 3 for one observed gap.</summary>
    public double NextGammaNeg(double gammaNeg, double gap) =>
        Math.Clamp(gammaNeg + Step * (TargetGap - gap), GammaMin, GammaMax);
}
