using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Train;

/// <summary>Shape of the generated data set; the defaults make the whole comparison fit a 2-core CPU.</summary>
internal sealed record DataSetOptions
{
    public int Classes { get; init; } = 120;
    public int Features { get; init; } = 64;
    public int TeacherHidden { get; init; } = 96;
    public int TrainSamples { get; init; } = 40_000;
    public int ValidationSamples { get; init; } = 5_000;
    /// <summary>Average number of true labels per sample (COCO has 2.9).</summary>
    public double MeanPositives { get; init; } = 2.5;
    /// <summary>Class k (from 0) has frequency proportional to (k + 1)^-exponent.</summary>
    public double PowerLawExponent { get; init; } = 1.0;
    /// <summary>Spread of the teacher's logit noise relative to its logits: labels are not a function of the features.</summary>
    public double TeacherNoise { get; init; } = 0.3;
    /// <summary>Share of true labels missing from the training annotations, as in partially labelled sets like OpenImages.</summary>
    public double MissingLabelRate { get; init; } = 0.2;
    public ulong Seed { get; init; } = 20_090_119;
}

/// <summary>
/// A multi-label data set with the imbalance of COCO/OpenImages: a fixed random teacher network maps Gaussian
/// features to class scores; class k is present where its noisy score exceeds the quantile that gives it a
/// power-law frequency. The training annotations then lose a share of their positives (missing labels); the
/// validation labels stay as the teacher drew them, so validation mAP measures the task, not the annotation noise.
/// </summary>
internal sealed class SyntheticMultiLabelData : IDisposable
{
    public required DataSetOptions Options { get; init; }
    public required Tensor TrainFeatures { get; init; }
    public required Tensor TrainTargets { get; init; }
    public required Tensor ValidationFeatures { get; init; }
    public required Tensor ValidationTargets { get; init; }

    /// <summary>Expected frequency of each class: a power law scaled to the mean label count, capped at one half.</summary>
    public static double[] ClassFrequencies(DataSetOptions options)
    {
        var weights = Enumerable.Range(1, options.Classes).Select(k => Math.Pow(k, -options.PowerLawExponent)).ToArray();
        double scale = options.MeanPositives / weights.Sum();
        return weights.Select(w => Math.Min(0.5, w * scale)).ToArray();
    }

    public static SyntheticMultiLabelData Generate(DataSetOptions options)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(options.Seed);
        int total = options.TrainSamples + options.ValidationSamples;

        var features = torch.randn([total, options.Features], generator: generator);
        var hiddenWeights = torch.randn([options.Features, options.TeacherHidden], generator: generator) / Math.Sqrt(options.Features);
        var outputWeights = torch.randn([options.TeacherHidden, options.Classes], generator: generator) / Math.Sqrt(options.TeacherHidden);
        var scores = torch.tanh(features.matmul(hiddenWeights) * 1.5).matmul(outputWeights);
        scores = scores / scores.std();
        scores += options.TeacherNoise * torch.randn(scores.shape, generator: generator);

        // Threshold of class k: the score exceeded by a share freq_k of all samples.
        var ranks = ClassFrequencies(options).Select(f => (long)Math.Round(f * (total - 1))).ToArray();
        var sortedScores = scores.sort(dim: 0, descending: true).Values;
        var thresholds = sortedScores.gather(0, torch.tensor(ranks).unsqueeze(0));
        var labels = (scores > thresholds).to(ScalarType.Float32);

        var trainLabels = labels[..options.TrainSamples];
        var kept = torch.rand(trainLabels.shape, generator: generator) >= options.MissingLabelRate;
        var trainTargets = trainLabels * kept.to(ScalarType.Float32);

        return new SyntheticMultiLabelData
        {
            Options = options,
            TrainFeatures = features[..options.TrainSamples].contiguous().MoveToOuterDisposeScope(),
            TrainTargets = trainTargets.contiguous().MoveToOuterDisposeScope(),
            ValidationFeatures = features[options.TrainSamples..].contiguous().MoveToOuterDisposeScope(),
            ValidationTargets = labels[options.TrainSamples..].contiguous().MoveToOuterDisposeScope(),
        };
    }

    /// <summary>The comparison on this data: the MLP student, the tensors on <paramref name="device"/>.</summary>
    public TrainingTask ToTask(Device device) => new()
    {
        Title = "Generated data",
        DataDescription = JsonSerializer.Serialize(Options),
        ClassNames = Enumerable.Range(0, Options.Classes).Select(k => $"class {k}").ToArray(),
        SingleLabel = false,
        TrainInputs = TrainFeatures.to(device),
        TrainTargets = TrainTargets.to(device),
        ValidationInputs = ValidationFeatures.to(device),
        ValidationTargets = ValidationTargets.to(device),
        CreateModel = settings => new MultiLabelMlp(Options.Features, settings.Width, Options.Classes),
    };

    public void Dispose()
    {
        TrainFeatures.Dispose();
        TrainTargets.Dispose();
        ValidationFeatures.Dispose();
        ValidationTargets.Dispose();
    }
}
