namespace AslCuda.Train;

/// <summary>The example's arguments, with defaults that reproduce docs/training.md.</summary>
internal sealed record CommandLine(
    DataSetOptions Data, TrainingSettings Settings, int[] Seeds, LossSetup[] Losses, string ChartDirectory, string CheckpointDirectory,
    bool Resume, bool Plain)
{
    private const string Usage =
        "usage: AslCuda.Train [--epochs N] [--seeds 1,2,3] [--losses bce,focal,asl,asl-adaptive] [--missing-labels RATE] " +
        "[--charts DIR] [--checkpoints DIR] [--resume] [--plain]";

    /// <summary>Parses <paramref name="args"/>; prints the problem and the usage and returns null when they are wrong.</summary>
    public static CommandLine? Parse(string[] args)
    {
        var settings = new TrainingSettings(Epochs: 15, BatchSize: 128, LearningRate: 1e-3, WeightDecay: 1e-4, Width: 256);
        var parsed = new CommandLine(new DataSetOptions(), settings, [1, 2, 3], LossSetup.All, "docs", Path.Combine("artifacts", "train-checkpoints"),
            Resume: false, Plain: false);
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                parsed = args[i] switch
                {
                    "--epochs" => parsed with { Settings = parsed.Settings with { Epochs = Positive(Value(), "--epochs") } },
                    "--seeds" => parsed with { Seeds = Value().Split(',').Select(s => int.Parse(s)).Distinct().ToArray() },
                    "--losses" => parsed with { Losses = Value().Split(',').Select(FindLoss).ToArray() },
                    "--charts" => parsed with { ChartDirectory = Value() },
                    "--checkpoints" => parsed with { CheckpointDirectory = Value() },
                    "--missing-labels" => parsed with { Data = parsed.Data with { MissingLabelRate = Rate(Value(), "--missing-labels") } },
                    "--resume" => parsed with { Resume = true },
                    "--plain" => parsed with { Plain = true },
                    _ => throw new FormatException($"unknown argument {args[i]}"),
                };
            }
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return null;
        }
        return parsed;
    }

    private static int Positive(string value, string name) =>
        int.TryParse(value, out int n) && n > 0 ? n : throw new FormatException($"{name} needs a positive whole number, got {value}");

    private static double Rate(string value, string name) =>
        double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out double rate) && rate is >= 0 and < 1
            ? rate
            : throw new FormatException($"{name} needs a rate in [0, 1), got {value}");

    private static LossSetup FindLoss(string key) =>
        LossSetup.All.FirstOrDefault(l => l.Key == key)
        ?? throw new FormatException($"unknown loss {key}; known: {string.Join(", ", LossSetup.All.Select(l => l.Key))}");
}
