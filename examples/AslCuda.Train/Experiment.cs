namespace AslCuda.Train;

/// <summary>Adaptive asymmetry settings (ASL.md section 3).</summary>
internal sealed record AdaptiveSettings(double TargetGap, double Step, double GammaMin, double GammaMax);

/// <summary>
/// One loss of a comparison, as parameters of our AsymmetricLoss module or, for a single-label one, of
/// AsymmetricLossSingleLabel (where <paramref name="LabelSmoothing"/> is its eps and the clip is unused).
/// </summary>
internal sealed record LossSetup(string Key, string Name, double GammaNeg, double GammaPos, double Clip, AdaptiveSettings? Adaptive = null,
    bool SingleLabel = false, double LabelSmoothing = 0)
{
    public static readonly LossSetup[] MultiLabel =
    [
        new("bce", "BCE", GammaNeg: 0, GammaPos: 0, Clip: 0),
        new("focal", "Focal", GammaNeg: 2, GammaPos: 2, Clip: 0),
        new("asl", "ASL", GammaNeg: 4, GammaPos: 0, Clip: 0.05),
        new("asl-adaptive", "ASL adaptive", GammaNeg: 4, GammaPos: 0, Clip: 0.05,
            new AdaptiveSettings(TargetGap: 0.5, Step: 0.01, GammaMin: 0, GammaMax: 8)),
    ];

    /// <summary>Cross-entropy is AsymmetricLossSingleLabel with both gammas 0; ASL uses the paper code's defaults.</summary>
    public static readonly LossSetup[] SingleLabelLosses =
    [
        new("ce", "CE", GammaNeg: 0, GammaPos: 0, Clip: 0, SingleLabel: true),
        new("ce-smooth", "CE, smoothing 0.1", GammaNeg: 0, GammaPos: 0, Clip: 0, SingleLabel: true, LabelSmoothing: 0.1),
        new("asl-single", "ASL single-label", GammaNeg: 4, GammaPos: 0, Clip: 0, SingleLabel: true, LabelSmoothing: 0.1),
    ];
}

/// <summary>Optimisation settings shared by every run; Width is the MLP's hidden width or the CNN's first channel count.</summary>
internal sealed record TrainingSettings(int Epochs, int BatchSize, double LearningRate, double WeightDecay, int Width);

/// <summary>
/// What one epoch left behind; the list of these is the run's checkpointed progress. ValidationScore is the
/// comparison's metric in percent (mAP, or accuracy for single-label runs); the statistics of a single-label run are
/// over softmax probabilities (positive: the true class), and it has neither a mAP over classes with positives nor a
/// training gap (null).
/// </summary>
internal sealed record EpochRecord(
    int Epoch, double TrainLoss, double ValidationScore, double? ValidationMapWithPositives,
    double MeanPPositive, double MeanPNegative, double? TrainGap, double GammaNeg, double Seconds);

/// <summary>The progress saved in a checkpoint: the run it belongs to (loss, seed, data, settings) and its finished epochs.</summary>
/// <param name="Data">The data set's options as JSON: a checkpoint only continues on the data it was trained on.</param>
internal sealed record RunProgress(LossSetup Loss, int Seed, string Data, TrainingSettings Settings, List<EpochRecord> Epochs);

/// <summary>A finished run: its history, the final validation probabilities and the final per-class scores.</summary>
internal sealed record RunResult(LossSetup Loss, int Seed, IReadOnlyList<EpochRecord> Epochs,
    float[] ValidationProbabilities, float[] ValidationTargets, double[] ClassAveragePrecision, int[] ClassPositives)
{
    public EpochRecord Final => Epochs[^1];
    public EpochRecord Best => Epochs.MaxBy(e => e.ValidationScore)!;
    public double Seconds => Epochs.Sum(e => e.Seconds);
}
