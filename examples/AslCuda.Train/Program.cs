using System.Diagnostics;
using AslCuda.Train;
using AslCuda.Train.Images;
using AslCuda.TorchSharp.Training;
using TorchSharp;

// Compares BCE, focal loss, ASL and ASL with adaptive asymmetry on a generated imbalanced multi-label set or, with
// --data images, on multi-label Fashion-MNIST mosaics, followed by CE, CE with label smoothing and single-label ASL
// on Fashion-MNIST itself. Usage: see CommandLine.Usage. Exit codes: 0 done, 1 unusable checkpoint, 2 bad arguments,
// 3 data set missing or unreadable.

var arguments = CommandLine.Parse(args);
if (arguments is null) return 2;

// One libtorch thread: for a 128 x 256 batch the intra-op pool costs more than it gives, and on a shared
// 2-core machine its spinning workers made epochs 10-40x slower. Runs go one after another: with two
// training threads in one process TorchSharp's Adam.step crashed on garbage scalars (docs/training.md).
torch.set_num_threads(1);

// TorchSharp initialises a device type on first use and aborts on one it cannot load, so ask about CUDA first.
if (arguments.Device.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
{
    Console.Error.WriteLine($"error: --device {arguments.Device}: this TorchSharp build has no CUDA (TorchSharp-cpu, or no usable GPU driver). " +
        "Build against TorchSharp-cuda-linux / TorchSharp-cuda-windows on a machine with an NVIDIA driver, or use --device cpu.");
    return 2;
}
torch.Device device;
try
{
    device = torch.device(arguments.Device);
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: --device {arguments.Device}: {e.Message}");
    return 2;
}

var clock = Stopwatch.StartNew();
List<Comparison> comparisons;
try
{
    comparisons = arguments.Data == DataKind.Images ? Comparison.Images(arguments, device) : Comparison.Synthetic(arguments, device);
}
catch (Exception e) when (e is FileNotFoundException or InvalidDataException or IOException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 3;
}

var settings = arguments.Settings;
Console.WriteLine($"training: {settings.Epochs} epochs, batch {settings.BatchSize}, Adam lr {settings.LearningRate} weight decay {settings.WeightDecay}, " +
    $"{(arguments.Data == DataKind.Images ? "CNN channels" : "MLP width")} {settings.Width}, seeds {string.Join(",", arguments.Seeds)}, " +
    $"device {device}, one run at a time on one libtorch thread");

var finished = new List<(Comparison Comparison, RunResult[] Results)>();
try
{
    foreach (var comparison in comparisons)
    {
        using var task = comparison.Task;
        Console.WriteLine(comparison.Description);
        var results = comparison.Run(arguments, clock);
        finished.Add((comparison, results));
        Directory.CreateDirectory(arguments.ChartDirectory);
        string scoreChart = Path.Combine(arguments.ChartDirectory, $"{comparison.ChartPrefix}-{(task.SingleLabel ? "accuracy" : "map")}.png");
        string histogramChart = Path.Combine(arguments.ChartDirectory, $"{comparison.ChartPrefix}-probabilities.png");
        Charts.SaveScorePerEpoch(results, task.Title, task.MetricName, scoreChart);
        Charts.SaveProbabilityHistograms(results, histogramChart);
        Summary.Write(Console.Out, task, results);
        Console.WriteLine($"charts: {scoreChart}, {histogramChart}");
    }
}
catch (CheckpointException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("Delete that checkpoint to start its run again, or run without --resume to start every run again.");
    return 1;
}

Console.WriteLine($"total time {clock.Elapsed.TotalSeconds:F0} s (data, training, evaluation, charts)");
return 0;
