namespace AslCuda.Train;

/// <summary>Adaptive asymmetry settings (ASL.md section 3).</summary>
internal sealed record AdaptiveSettings(double TargetGap, double Step, double GammaMin, double GammaMax);

/// <summary>One loss of the comparison, as parameters of our AsymmetricLoss module.</summary>
internal sealed record LossSetup(string Key, string Name, double GammaNeg, double GammaPos, double Clip, AdaptiveSettings? Adaptive = null)
{
    public static readonly LossSetup[] All =
    [
        new("bce", "BCE", GammaNeg: 0, GammaPos: 0, Clip: 0),
        new("focal", "Focal", GammaNeg: 2, GammaPos: 2, Clip: 0),
        new("asl", "ASL", GammaNeg: 4, GammaPos: 0, Clip: 0.05),
        new("asl-adaptive", "ASL adaptive", GammaNeg: 4, GammaPos: 0, Clip: 0.05,
            new AdaptiveSettings(TargetGap: 0.5, Step: 0.01, GammaMin: 0, GammaMax: 8)),
    ];
}

/// <summary>Optimisation settings shared by every run.</summary>
internal sealed record TrainingSettings(int Epochs, int BatchSize, double LearningRate, double WeightDecay, int Width);

/// <summary>What one epoch left behind; the list of these is the run's checkpointed progress.</summary>
internal sealed record EpochRecord(
    int Epoch, double TrainLoss, double ValidationMap, double ValidationMapWithPositives,
    double MeanPPositive, double MeanPNegative, double TrainGap, double GammaNeg, double Seconds);

/// <summary>The progress saved in a checkpoint: the run it belongs to (loss, seed, data, settings) and its finished epochs.</summary>
internal sealed record RunProgress(LossSetup Loss, int Seed, DataSetOptions Data, TrainingSettings Settings, List<EpochRecord> Epochs);

/// <summary>A finished run: its history and the final validation probabilities.</summary>
internal sealed record RunResult(LossSetup Loss, int Seed, IReadOnlyList<EpochRecord> Epochs,
    float[] ValidationProbabilities, float[] ValidationTargets)
{
    public EpochRecord Final => Epochs[^1];
    public EpochRecord Best => Epochs.MaxBy(e => e.ValidationMap)!;
    public double Seconds => Epochs.Sum(e => e.Seconds);
}
