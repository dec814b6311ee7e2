using System.Globalization;
using AslCuda.Train.Images;

namespace AslCuda.Train;

/// <summary>Which comparison the example runs.</summary>
internal enum DataKind
{
    /// <summary>The generated multi-label set (docs/training.md).</summary>
    Synthetic,
    /// <summary>Multi-label Fashion-MNIST mosaics, then single-label Fashion-MNIST (docs/training-images.md).</summary>
    Images,
}

/// <summary>The example's arguments, with defaults that reproduce docs/training.md, or docs/training-images.md with --data images.</summary>
internal sealed record CommandLine(
    DataKind Data, DataSetOptions Synthetic, MosaicOptions Mosaics, FashionMnistOptions SingleLabel, string DatasetDirectory,
    TrainingSettings Settings, int[] Seeds, LossSetup[] Losses, string Device, string ChartDirectory, string CheckpointDirectory,
    bool Resume, bool Plain)
{
    private const string Usage =
        "usage: AslCuda.Train [--data synthetic|images] [--epochs N] [--seeds 1,2,3] [--losses bce,focal,asl,asl-adaptive[,ce,ce-smooth,asl-single]] " +
        "[--missing-labels RATE] [--device cpu|cuda|cuda:N] [--charts DIR] [--checkpoints DIR] [--resume] [--plain]\n" +
        "       images only: [--dataset-dir DIR] [--grid N] [--train-samples N] [--single-label-samples N]";

    /// <summary>Parses <paramref name="args"/>; prints the problem and the usage and returns null when they are wrong.</summary>
    public static CommandLine? Parse(string[] args)
    {
        try
        {
            var parsed = Defaults(DataKindOf(args));
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                string name = args[i];
                if (parsed.Data != DataKind.Images && name is "--dataset-dir" or "--grid" or "--train-samples" or "--single-label-samples")
                    throw new FormatException($"{name} applies to --data images only");
                parsed = name switch
                {
                    "--data" => parsed with { Data = ParseDataKind(Value()) },
                    "--epochs" => parsed with { Settings = parsed.Settings with { Epochs = Positive(Value(), name) } },
                    "--seeds" => parsed with { Seeds = Value().Split(',').Select(s => Whole(s, name)).Distinct().ToArray() },
                    "--losses" => parsed with { Losses = Value().Split(',').Select(key => FindLoss(key, parsed.Data)).ToArray() },
                    "--device" => parsed with { Device = Value() },
                    "--charts" => parsed with { ChartDirectory = Value() },
                    "--checkpoints" => parsed with { CheckpointDirectory = Value() },
                    "--missing-labels" => parsed.Data == DataKind.Images
                        ? parsed with { Mosaics = parsed.Mosaics with { MissingLabelRate = Rate(Value(), name) } }
                        : parsed with { Synthetic = parsed.Synthetic with { MissingLabelRate = Rate(Value(), name) } },
                    "--dataset-dir" => parsed with { DatasetDirectory = Value() },
                    "--grid" => parsed with { Mosaics = parsed.Mosaics with { Grid = Positive(Value(), name) } },
                    "--train-samples" => parsed with { Mosaics = parsed.Mosaics with { TrainSamples = Positive(Value(), name) } },
                    "--single-label-samples" => parsed with { SingleLabel = parsed.SingleLabel with { TrainSamples = Positive(Value(), name) } },
                    "--resume" => parsed with { Resume = true },
                    "--plain" => parsed with { Plain = true },
                    _ => throw new FormatException($"unknown argument {name}"),
                };
            }
            return parsed;
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return null;
        }
    }

    /// <summary>
    /// The defaults of each comparison. Images: a small CNN (16, 32, 64 channels) and data sized so that the whole
    /// default run (7 losses x 3 seeds) fits in 15 minutes on a 2-core CPU (docs/training-images.md).
    /// </summary>
    private static CommandLine Defaults(DataKind data) => data == DataKind.Images
        ? new CommandLine(data, new DataSetOptions(), new MosaicOptions(), new FashionMnistOptions(), FashionMnist.DebianDirectory,
            new TrainingSettings(Epochs: 10, BatchSize: 64, LearningRate: 2e-3, WeightDecay: 1e-4, Width: 16), [1, 2, 3],
            [.. LossSetup.MultiLabel, .. LossSetup.SingleLabelLosses], "cpu", "docs", Path.Combine("artifacts", "train-images-checkpoints"),
            Resume: false, Plain: false)
        : new CommandLine(data, new DataSetOptions(), new MosaicOptions(), new FashionMnistOptions(), FashionMnist.DebianDirectory,
            new TrainingSettings(Epochs: 15, BatchSize: 128, LearningRate: 1e-3, WeightDecay: 1e-4, Width: 256), [1, 2, 3],
            LossSetup.MultiLabel, "cpu", "docs", Path.Combine("artifacts", "train-checkpoints"), Resume: false, Plain: false);

    /// <summary>The value of --data, looked up first because the other arguments' defaults and meanings depend on it.</summary>
    private static DataKind DataKindOf(string[] args)
    {
        int at = Array.LastIndexOf(args, "--data");
        if (at < 0) return DataKind.Synthetic;
        return at + 1 < args.Length ? ParseDataKind(args[at + 1]) : throw new FormatException("--data needs a value");
    }

    private static DataKind ParseDataKind(string value) => value switch
    {
        "synthetic" => DataKind.Synthetic,
        "images" => DataKind.Images,
        _ => throw new FormatException($"--data is synthetic or images, got {value}"),
    };

    private static int Whole(string value, string name) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out int n) ? n : throw new FormatException($"{name} needs whole numbers, got {value}");

    private static int Positive(string value, string name) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new FormatException($"{name} needs a positive whole number, got {value}");

    private static double Rate(string value, string name) =>
        double.TryParse(value, CultureInfo.InvariantCulture, out double rate) && rate is >= 0 and < 1
            ? rate
            : throw new FormatException($"{name} needs a rate in [0, 1), got {value}");

    private static LossSetup FindLoss(string key, DataKind data)
    {
        var known = data == DataKind.Images ? [.. LossSetup.MultiLabel, .. LossSetup.SingleLabelLosses] : LossSetup.MultiLabel;
        return known.FirstOrDefault(l => l.Key == key)
            ?? throw new FormatException($"unknown loss {key}; known for --data {data.ToString().ToLowerInvariant()}: {string.Join(", ", known.Select(l => l.Key))}");
    }
}
