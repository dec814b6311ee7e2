using System.Diagnostics;
using AslCuda.Train;
using AslCuda.TorchSharp.Training;
using TorchSharp;

// Compares BCE, focal loss, ASL and ASL with adaptive asymmetry on a generated imbalanced multi-label set.
// Usage: AslCuda.Train [--epochs N] [--seeds 1,2,3] [--losses bce,focal,asl,asl-adaptive] [--missing-labels RATE]
//                      [--charts DIR] [--checkpoints DIR] [--resume] [--plain]

var arguments = CommandLine.Parse(args);
if (arguments is null) return 2;

// One libtorch thread: for a 128 x 256 batch the intra-op pool costs more than it gives, and on a shared
// 2-core machine its spinning workers made epochs 10-40x slower. Runs go one after another, because two
// training runs on two threads of one process crashed inside TorchSharp's Adam.step.
torch.set_num_threads(1);

var clock = Stopwatch.StartNew();
var dataOptions = arguments.Data;
using var data = SyntheticMultiLabelData.Generate(dataOptions);
double trainPositives = data.TrainTargets.sum().item<float>() / dataOptions.TrainSamples;
double validationPositives = data.ValidationTargets.sum().item<float>() / dataOptions.ValidationSamples;
var frequencies = SyntheticMultiLabelData.ClassFrequencies(dataOptions);
var settings = arguments.Settings;
Console.WriteLine($"data: {dataOptions.TrainSamples} train / {dataOptions.ValidationSamples} validation samples, {dataOptions.Classes} classes, " +
    $"{dataOptions.Features} features; positives per sample {validationPositives:F2} (train, after {dataOptions.MissingLabelRate:P0} missing labels: {trainPositives:F2}); " +
    $"class frequency {frequencies[0]:P1} down to {frequencies[^1]:P2}");
Console.WriteLine($"training: {settings.Epochs} epochs, batch {settings.BatchSize}, Adam lr {settings.LearningRate} weight decay {settings.WeightDecay}, " +
    $"MLP width {settings.Width}, seeds {string.Join(",", arguments.Seeds)}, one run at a time on one libtorch thread");

var trainer = new Trainer(data, settings, arguments.CheckpointDirectory, arguments.Resume);
var runs = arguments.Losses.SelectMany(loss => arguments.Seeds.Select(seed => (Loss: loss, Seed: seed))).ToArray();
var results = new RunResult[runs.Length];
try
{
    TrainingProgress.Run(!arguments.Plain && TrainingProgress.CanShowLive, progress =>
    {
        for (int i = 0; i < runs.Length; i++)
            results[i] = trainer.Run(runs[i].Loss, runs[i].Seed, progress);
    });
}
catch (CheckpointException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("Delete that checkpoint to start its run again, or run without --resume to start every run again.");
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
