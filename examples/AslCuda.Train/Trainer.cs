using System.Diagnostics;
using AslCuda.Metrics;
using AslCuda.TorchSharp;
using AslCuda.TorchSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AslCuda.Train;

/// <summary>Trains one (loss, seed) run of the comparison, checkpointing after every epoch.</summary>
internal sealed class Trainer(SyntheticMultiLabelData data, TrainingSettings settings, string checkpointDirectory, bool resume)
{
    public RunResult Run(LossSetup setup, int seed, ITrainingProgress progress)
    {
        torch.manual_seed(seed);
        using var model = new MultiLabelMlp(data.Options.Features, settings.Width, data.Options.Classes);
        using var optimizer = torch.optim.Adam(model.parameters(), lr: settings.LearningRate, weight_decay: settings.WeightDecay);
        using var loss = new AsymmetricLoss(setup.GammaNeg, setup.GammaPos, setup.Clip, backend: AslBackend.Fused) { TrackStatistics = true };
        var controller = setup.Adaptive is { } adaptive
            ? new AdaptiveAsymmetry(loss, adaptive.TargetGap, adaptive.Step, adaptive.GammaMin, adaptive.GammaMax)
            : null;

        string checkpoint = Path.Combine(checkpointDirectory, $"{setup.Key}-seed{seed}.ckpt");
        var state = resume && File.Exists(checkpoint)
            ? Resume(checkpoint, setup, seed, model, optimizer)
            : new RunProgress(setup, seed, data.Options, settings, []);
        if (state.Epochs.Count > 0) loss.GammaNeg = state.Epochs[^1].GammaNeg;

        long samples = data.TrainFeatures.shape[0];
        int stepsPerEpoch = (int)((samples + settings.BatchSize - 1) / settings.BatchSize);
        var run = progress.StartRun(setup, seed, settings.Epochs * stepsPerEpoch, state.Epochs.Count * stepsPerEpoch);
        foreach (var done in state.Epochs) run.EpochCompleted(done, settings.Epochs);

        for (int epoch = state.Epochs.Count + 1; epoch <= settings.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.train();
            double lossSum = 0, gapSum = 0;
            // The shuffle depends only on (seed, epoch), so a resumed run sees the same batches.
            using var order = torch.randperm(samples, generator: new Generator((ulong)(seed * 100_003 + epoch)));
            for (int step = 0; step < stepsPerEpoch; step++)
            {
                using var scope = torch.NewDisposeScope();
                long start = (long)step * settings.BatchSize;
                var batch = order.narrow(0, start, Math.Min(settings.BatchSize, samples - start));
                var features = data.TrainFeatures.index_select(0, batch);
                var targets = data.TrainTargets.index_select(0, batch);

                optimizer.zero_grad();
                var batchLoss = loss.call(model.call(features), targets);
                batchLoss.backward();
                optimizer.step();

                // The fused pass measured the gap while it computed the loss; the controller only reads it.
                controller?.Update();
                var statistics = loss.LastStatistics!.Value;
                double perSample = batchLoss.item<float>() / batch.shape[0];
                lossSum += perSample;
                gapSum += statistics.Gap;
                run.StepCompleted(perSample);
            }

            var evaluation = Evaluate(model);
            var record = new EpochRecord(epoch, lossSum / stepsPerEpoch, evaluation.Map.Map, evaluation.Map.MapOverClassesWithPositives,
                evaluation.MeanPPositive, evaluation.MeanPNegative, gapSum / stepsPerEpoch, loss.GammaNeg, clock.Elapsed.TotalSeconds);
            state.Epochs.Add(record);
            Checkpoint.Save(checkpoint, model, optimizer, state);
            run.EpochCompleted(record, settings.Epochs);
        }

        var final = Evaluate(model);
        return new RunResult(setup, seed, state.Epochs, final.Probabilities, final.Targets);
    }

    private RunProgress Resume(string checkpoint, LossSetup setup, int seed, MultiLabelMlp model, Adam optimizer)
    {
        var state = Checkpoint.Load<RunProgress>(checkpoint, model, optimizer);
        if (state.Loss != setup || state.Seed != seed)
            throw new CheckpointException($"checkpoint {checkpoint} belongs to {state.Loss} seed {state.Seed}, not to {setup} seed {seed}.");
        if (state.Data != data.Options)
            throw new CheckpointException($"checkpoint {checkpoint} was trained on other data ({state.Data}) than this run ({data.Options}).");
        // Only the epoch count may change between runs: a finished run can be trained further.
        if (state.Settings with { Epochs = settings.Epochs } != settings)
            throw new CheckpointException($"checkpoint {checkpoint} was trained with {state.Settings}, this run asks for {settings}.");
        if (state.Epochs.Count > settings.Epochs)
            throw new CheckpointException($"checkpoint {checkpoint} already holds {state.Epochs.Count} epochs, more than the {settings.Epochs} asked for.");
        return state;
    }

    private sealed record Evaluation(MeanAveragePrecisionResult Map, double MeanPPositive, double MeanPNegative, float[] Probabilities, float[] Targets);

    private Evaluation Evaluate(MultiLabelMlp model)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        model.eval();
        var probabilities = torch.sigmoid(model.call(data.ValidationFeatures)).data<float>().ToArray();
        var targets = data.ValidationTargets.data<float>().ToArray();
        var map = MeanAveragePrecision.Compute(probabilities, targets, (int)data.ValidationFeatures.shape[0], data.Options.Classes);

        double positiveSum = 0, negativeSum = 0;
        long positives = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            if (targets[i] == 1) { positiveSum += probabilities[i]; positives++; }
            else negativeSum += probabilities[i];
        }
        return new Evaluation(map, positiveSum / positives, negativeSum / (probabilities.Length - positives), probabilities, targets);
    }
}
