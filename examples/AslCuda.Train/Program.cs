using System.Diagnostics;
using AslCuda.Train;
using AslCuda.TorchSharp.Training;
using TorchSharp;

// Compares BCE, focal loss, ASL and ASL with adaptive asymmetry on a generated imbalanced multi-label set.
// Usage: AslCuda.Train [--epochs N] [--seeds 1,2,3] [--losses bce,focal,asl,asl-adaptive]
//                      [--charts DIR] [--checkpoints DIR] [--resume] [--threads N] [--plain]

var arguments = CommandLine.Parse(args);
if (arguments is null) return 2;

// libtorch's intra-op pool defaults to one thread per core; more than the cores only adds contention.
torch.set_num_threads(arguments.Threads);

var clock = Stopwatch.StartNew();
var dataOptions = new DataSetOptions();
using var data = SyntheticMultiLabelData.Generate(dataOptions);
double trainPositives = data.TrainTargets.sum().item<float>() / dataOptions.TrainSamples;
double validationPositives = data.ValidationTargets.sum().item<float>() / dataOptions.ValidationSamples;
var frequencies = SyntheticMultiLabelData.ClassFrequencies(dataOptions);
Console.WriteLine($"data: {dataOptions.TrainSamples} train / {dataOptions.ValidationSamples} validation samples, {dataOptions.Classes} classes, " +
    $"{dataOptions.Features} features; positives per sample {validationPositives:F2} (train after {dataOptions.MissingLabelRate:P0} missing labels: {trainPositives:F2}); " +
    $"class frequency {frequencies[0]:P1} down to {frequencies[^1]:P2}");
Console.WriteLine($"training: {arguments.Settings.Epochs} epochs, batch {arguments.Settings.BatchSize}, Adam lr {arguments.Settings.LearningRate}, " +
    $"MLP width {arguments.Settings.Width}, seeds {string.Join(",", arguments.Seeds)}, {arguments.Threads} torch threads");

var trainer = new Trainer(data, arguments.Settings, arguments.CheckpointDirectory, arguments.Resume);
var results = new List<RunResult>();
try
{
    TrainingProgress.Run(!arguments.Plain && TrainingProgress.CanShowLive, progress =>
    {
        foreach (var setup in arguments.Losses)
            foreach (int seed in arguments.Seeds)
                results.Add(trainer.Run(setup, seed, progress));
    });
}
catch (CheckpointException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("Delete the checkpoint to start that run again, or run without --resume to start every run again.");
    return 1;
}

Summary.Print(results, clock.Elapsed);
Directory.CreateDirectory(arguments.ChartDirectory);
string mapChart = Path.Combine(arguments.ChartDirectory, "training-map.png");
string histogramChart = Path.Combine(arguments.ChartDirectory, "training-probabilities.png");
Charts.SaveMapPerEpoch(results, mapChart);
Charts.SaveProbabilityHistograms(results, histogramChart);
Console.WriteLine($"charts: {mapChart}, {histogramChart}");
return 0;
