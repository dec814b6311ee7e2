using System.Diagnostics;
using AslCuda.Train.Images;
using TorchSharp;

namespace AslCuda.Train;

/// <summary>
/// One comparison of losses on one task: where its checkpoints, epoch log, results table and charts go
/// (charts and table as <c>{ChartPrefix}-*.png</c> and <c>{ChartPrefix}-results.md</c> in the chart folder).
/// </summary>
internal sealed record Comparison(TrainingTask Task, LossSetup[] Losses, string Description, string ChartPrefix, string CheckpointDirectory)
{
    public static List<Comparison> Synthetic(CommandLine arguments, torch.Device device)
    {
        var options = arguments.Synthetic;
        using var data = SyntheticMultiLabelData.Generate(options);
        double trainPositives = data.TrainTargets.sum().item<float>() / options.TrainSamples;
        double validationPositives = data.ValidationTargets.sum().item<float>() / options.ValidationSamples;
        var frequencies = SyntheticMultiLabelData.ClassFrequencies(options);
        string description = $"data: {options.TrainSamples} train / {options.ValidationSamples} validation samples, {options.Classes} classes, " +
            $"{options.Features} features; positives per sample {validationPositives:F2} (train, after {options.MissingLabelRate:P0} missing labels: {trainPositives:F2}); " +
            $"class frequency {frequencies[0]:P1} down to {frequencies[^1]:P2}";
        // The task's tensors are copies on the device, or the same tensors on the CPU; disposing both is harmless.
        return [new Comparison(data.ToTask(device), arguments.Losses, description, "training", arguments.CheckpointDirectory)];
    }

    /// <summary>Multi-label mosaics (the losses of the list that are multi-label), then single-label Fashion-MNIST (the others).</summary>
    public static List<Comparison> Images(CommandLine arguments, torch.Device device)
    {
        var train = FashionMnist.LoadTrain(arguments.DatasetDirectory);
        var test = FashionMnist.LoadTest(arguments.DatasetDirectory);
        var comparisons = new List<Comparison>();
        var multiLabelLosses = arguments.Losses.Where(l => !l.SingleLabel).ToArray();
        if (multiLabelLosses.Length > 0)
        {
            var options = arguments.Mosaics;
            var data = MosaicDataSet.Build(train, test, FashionMnist.ClassNames.Length, options);
            var presence = ClassShares(data.Validation);
            string description = $"multi-label data: {options.TrainSamples} train / {options.ValidationSamples} validation mosaics of {options.Grid}x{options.Grid} cells " +
                $"({data.Train.Side}x{data.Train.Side} px) from the Fashion-MNIST training / test images, cells empty with probability {options.EmptyCellRate}; " +
                $"labels per mosaic {PositivesPerSample(data.Validation):F2} of {FashionMnist.ClassNames.Length} (train after {options.MissingLabelRate:P0} missing labels: " +
                $"{PositivesPerSample(data.Train):F2}); class present in {presence.Max():P1} ({FashionMnist.ClassNames[0]}) down to {presence.Min():P1} " +
                $"({FashionMnist.ClassNames[^1]}) of the validation mosaics";
            comparisons.Add(new Comparison(ImageTasks.MultiLabel(data, device), multiLabelLosses, description, "images-mosaics",
                Path.Combine(arguments.CheckpointDirectory, "mosaics")));
        }
        var singleLabelLosses = arguments.Losses.Where(l => l.SingleLabel).ToArray();
        if (singleLabelLosses.Length > 0)
        {
            string description = $"single-label data: the first {arguments.SingleLabel.TrainSamples} of the {train.Count} Fashion-MNIST training images, " +
                $"validated on all {test.Count} test images";
            comparisons.Add(new Comparison(ImageTasks.SingleLabel(train, test, arguments.SingleLabel, device), singleLabelLosses, description,
                "images-single", Path.Combine(arguments.CheckpointDirectory, "single-label")));
        }
        return comparisons;
    }

    /// <summary>
    /// Trains every (loss, seed) run in turn. Each finished epoch is appended to <c>epochs.log</c> in the checkpoint
    /// folder and the results table is rewritten after each finished run, so a run cut short leaves what it finished.
    /// </summary>
    public RunResult[] Run(CommandLine arguments, Stopwatch clock)
    {
        Directory.CreateDirectory(CheckpointDirectory);
        Directory.CreateDirectory(arguments.ChartDirectory);
        string resultsPath = Path.Combine(arguments.ChartDirectory, $"{ChartPrefix}-results.md");
        using var log = new StreamWriter(Path.Combine(CheckpointDirectory, "epochs.log"), append: true);
        log.WriteLine($"# {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC: {Task.Title}, {arguments.Settings}, seeds {string.Join(",", arguments.Seeds)}");

        var trainer = new Trainer(Task, arguments.Settings, CheckpointDirectory, arguments.Resume);
        var runs = Losses.SelectMany(loss => arguments.Seeds.Select(seed => (Loss: loss, Seed: seed))).ToArray();
        var results = new List<RunResult>();
        TrainingProgress.Run(!arguments.Plain && TrainingProgress.CanShowLive, Task.MetricName, log, progress =>
        {
            foreach (var (loss, seed) in runs)
            {
                results.Add(trainer.Run(loss, seed, progress));
                using var table = new StreamWriter(resultsPath);
                table.WriteLine($"{Task.Title}. {Description}.");
                table.WriteLine();
                table.WriteLine($"Training: {arguments.Settings}, device {Task.TrainInputs.device}; {results.Count} of {runs.Length} runs finished " +
                    $"after {clock.Elapsed.TotalSeconds:F0} s of the whole command.");
                Summary.Write(table, Task, results);
            }
        });
        return [.. results];
    }

    private static double PositivesPerSample(Mosaics mosaics) => mosaics.Targets.Sum() / mosaics.Count;

    private static double[] ClassShares(Mosaics mosaics) =>
        Enumerable.Range(0, mosaics.Classes)
            .Select(k => Enumerable.Range(0, mosaics.Count).Count(m => mosaics.Targets[m * mosaics.Classes + k] == 1) / (double)mosaics.Count).ToArray();
}
