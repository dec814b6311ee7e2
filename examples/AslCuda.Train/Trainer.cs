using System.Diagnostics;
using AslCuda.TorchSharp;
using AslCuda.TorchSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AslCuda.Train;

/// <summary>Trains one (loss, seed) run of a comparison on the task's device, checkpointing after every epoch.</summary>
internal sealed class Trainer(TrainingTask task, TrainingSettings settings, string checkpointDirectory, bool resume)
{
    /// <summary>Validation rows per forward pass: bounds the memory of a CNN's activations.</summary>
    private const int EvaluationChunk = 1000;

    public RunResult Run(LossSetup setup, int seed, ITrainingProgress progress)
    {
        if (setup.SingleLabel != task.SingleLabel)
            throw new ArgumentException($"loss {setup.Key} is {(setup.SingleLabel ? "single" : "multi")}-label, the task {task.Title} is not.", nameof(setup));
        torch.manual_seed(seed);
        var device = task.TrainInputs.device;
        using var model = task.CreateModel(settings);
        model.to(device);
        using var optimizer = torch.optim.Adam(model.parameters(), lr: settings.LearningRate, weight_decay: settings.WeightDecay);
        // Both losses sum over the batch (the paper code's multi-label reduction); Adam makes the scale nearly irrelevant.
        using var multiLabel = setup.SingleLabel ? null
            : new AsymmetricLoss(setup.GammaNeg, setup.GammaPos, setup.Clip, backend: AslBackend.Fused) { TrackStatistics = true };
        using var singleLabel = setup.SingleLabel
            ? new AsymmetricLossSingleLabel(setup.GammaPos, setup.GammaNeg, setup.LabelSmoothing, nn.Reduction.Sum, AslBackend.Fused)
            : null;
        nn.Module<Tensor, Tensor, Tensor> loss = (nn.Module<Tensor, Tensor, Tensor>?)multiLabel ?? singleLabel!;
        var controller = setup.Adaptive is { } adaptive
            ? new AdaptiveAsymmetry(multiLabel!, adaptive.TargetGap, adaptive.Step, adaptive.GammaMin, adaptive.GammaMax)
            : null;

        string checkpoint = Path.Combine(checkpointDirectory, $"{setup.Key}-seed{seed}.ckpt");
        var state = resume && File.Exists(checkpoint)
            ? Resume(checkpoint, setup, seed, model, optimizer)
            : new RunProgress(setup, seed, task.DataDescription, settings, []);
        if (state.Epochs.Count > 0 && multiLabel is not null) multiLabel.GammaNeg = state.Epochs[^1].GammaNeg;

        long samples = task.TrainInputs.shape[0];
        int stepsPerEpoch = (int)((samples + settings.BatchSize - 1) / settings.BatchSize);
        var run = progress.StartRun(setup, seed, settings.Epochs * stepsPerEpoch, state.Epochs.Count * stepsPerEpoch);
        foreach (var done in state.Epochs) run.EpochCompleted(done, settings.Epochs);

        for (int epoch = state.Epochs.Count + 1; epoch <= settings.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.train();
            double lossSum = 0, gapSum = 0;
            // The shuffle depends only on (seed, epoch), so a resumed run sees the same batches; drawn on the CPU
            // so that it is the same on every device.
            using var order = torch.randperm(samples, generator: new Generator((ulong)(seed * 100_003 + epoch))).to(device);
            for (int step = 0; step < stepsPerEpoch; step++)
            {
                using var scope = torch.NewDisposeScope();
                long start = (long)step * settings.BatchSize;
                var batch = order.narrow(0, start, Math.Min(settings.BatchSize, samples - start));
                var inputs = task.TrainInputs.index_select(0, batch);
                var targets = task.TrainTargets.index_select(0, batch);

                optimizer.zero_grad();
                var batchLoss = loss.call(model.call(inputs), targets);
                batchLoss.backward();
                optimizer.step();

                // The fused pass measured the gap while it computed the loss; the controller only reads it.
                controller?.Update();
                double perSample = batchLoss.item<float>() / batch.shape[0];
                lossSum += perSample;
                if (multiLabel is not null) gapSum += multiLabel.LastStatistics!.Value.Gap;
                run.StepCompleted(perSample);
            }

            var evaluation = Evaluate(model);
            var record = new EpochRecord(epoch, lossSum / stepsPerEpoch, evaluation.Score, evaluation.MapWithPositives,
                evaluation.MeanPPositive, evaluation.MeanPNegative, multiLabel is null ? null : gapSum / stepsPerEpoch, multiLabel?.GammaNeg ?? setup.GammaNeg,
                clock.Elapsed.TotalSeconds);
            state.Epochs.Add(record);
            Checkpoint.Save(checkpoint, model, optimizer, state);
            run.EpochCompleted(record, settings.Epochs);
        }

        var final = Evaluate(model);
        return new RunResult(setup, seed, state.Epochs, final.Probabilities, final.Targets, final.ClassAveragePrecision, final.ClassPositives);
    }

    private RunProgress Resume(string checkpoint, LossSetup setup, int seed, nn.Module model, Adam optimizer)
    {
        var state = Checkpoint.Load<RunProgress>(checkpoint, model, optimizer);
        if (state.Loss != setup || state.Seed != seed)
            throw new CheckpointException($"checkpoint {checkpoint} belongs to {state.Loss} seed {state.Seed}, not to {setup} seed {seed}.");
        if (state.Data != task.DataDescription)
            throw new CheckpointException($"checkpoint {checkpoint} was trained on other data ({state.Data}) than this run ({task.DataDescription}).");
        // Only the epoch count may change between runs: a finished run can be trained further.
        if (state.Settings with { Epochs = settings.Epochs } != settings)
            throw new CheckpointException($"checkpoint {checkpoint} was trained with {state.Settings}, this run asks for {settings}.");
        if (state.Epochs.Count > settings.Epochs)
            throw new CheckpointException($"checkpoint {checkpoint} already holds {state.Epochs.Count} epochs, more than the {settings.Epochs} asked for.");
        return state;
    }

    private Evaluation Evaluate(nn.Module<Tensor, Tensor> model)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        model.eval();
        long rows = task.ValidationInputs.shape[0];
        var chunks = new List<Tensor>();
        for (long start = 0; start < rows; start += EvaluationChunk)
            chunks.Add(model.call(task.ValidationInputs.narrow(0, start, Math.Min(EvaluationChunk, rows - start))).cpu());
        return task.Evaluate(torch.cat(chunks, 0));
    }
}
