using AslCuda.Metrics;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Train;

/// <summary>The validation metrics of one evaluation (see <see cref="EpochRecord"/> for their meaning).</summary>
internal sealed record Evaluation(double Score, double? MapWithPositives, double MeanPPositive, double MeanPNegative,
    float[] Probabilities, float[] Targets, double[] ClassAveragePrecision, int[] ClassPositives);

/// <summary>
/// One comparison's data, on the device its runs use, and its model: multi-label (targets [N, classes] in {0, 1},
/// scored by mAP) or single-label (targets [N] class indices, scored by accuracy). The trainer does the rest.
/// </summary>
internal sealed class TrainingTask : IDisposable
{
    /// <summary>What the runs of this task are called in messages and chart titles.</summary>
    public required string Title { get; init; }
    /// <summary>The data set's options as JSON; checkpoints carry it.</summary>
    public required string DataDescription { get; init; }
    public required string[] ClassNames { get; init; }
    public required bool SingleLabel { get; init; }
    public required Tensor TrainInputs { get; init; }
    public required Tensor TrainTargets { get; init; }
    public required Tensor ValidationInputs { get; init; }
    public required Tensor ValidationTargets { get; init; }
    public required Func<TrainingSettings, nn.Module<Tensor, Tensor>> CreateModel { get; init; }

    public int Classes => ClassNames.Length;
    public string MetricName => SingleLabel ? "accuracy" : "mAP";

    /// <summary>Scores validation logits (on the CPU) against the validation targets.</summary>
    public Evaluation Evaluate(Tensor logits)
    {
        using var scope = torch.NewDisposeScope();
        var targets = ValidationTargets.cpu();
        int samples = (int)logits.shape[0];
        if (SingleLabel)
        {
            var probabilities = torch.softmax(logits, 1);
            var oneHot = nn.functional.one_hot(targets, Classes).to(ScalarType.Float32);
            double accuracy = 100 * probabilities.argmax(1).eq(targets).to(ScalarType.Float32).mean().item<float>();
            return Summarise(accuracy, null, probabilities.data<float>().ToArray(), oneHot.data<float>().ToArray(), null, null);
        }

        var sigmoid = torch.sigmoid(logits).data<float>().ToArray();
        var labels = targets.data<float>().ToArray();
        var map = MeanAveragePrecision.Compute(sigmoid, labels, samples, Classes);
        return Summarise(map.Map, map.MapOverClassesWithPositives, sigmoid, labels, map.AveragePrecision, map.PositiveCount);
    }

    private static Evaluation Summarise(double score, double? mapWithPositives, float[] probabilities, float[] targets,
        double[]? classAveragePrecision, int[]? classPositives)
    {
        double positiveSum = 0, negativeSum = 0;
        long positives = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            if (targets[i] == 1) { positiveSum += probabilities[i]; positives++; }
            else negativeSum += probabilities[i];
        }
        return new Evaluation(score, mapWithPositives, positiveSum / positives, negativeSum / (probabilities.Length - positives),
            probabilities, targets, classAveragePrecision ?? [], classPositives ?? []);
    }

    public void Dispose()
    {
        TrainInputs.Dispose();
        TrainTargets.Dispose();
        ValidationInputs.Dispose();
        ValidationTargets.Dispose();
    }
}
