using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Train.Images;

/// <summary>The single-label comparison's data: a prefix of the Fashion-MNIST training images, validated on all test images.</summary>
internal sealed record FashionMnistOptions
{
    public int TrainSamples { get; init; } = 10_000;
}

/// <summary>The two image comparisons as training tasks, their tensors on the runs' device.</summary>
internal static class ImageTasks
{
    public static TrainingTask MultiLabel(MosaicDataSet data, Device device) => new()
    {
        Title = $"Fashion-MNIST {data.Options.Grid}x{data.Options.Grid} mosaics",
        DataDescription = JsonSerializer.Serialize(data.Options),
        ClassNames = FashionMnist.ClassNames,
        SingleLabel = false,
        TrainInputs = Tensor(data.Train.Pixels, data.Train.Count, device),
        TrainTargets = Tensor(data.Train.Targets, data.Train.Count, device),
        ValidationInputs = Tensor(data.Validation.Pixels, data.Validation.Count, device),
        ValidationTargets = Tensor(data.Validation.Targets, data.Validation.Count, device),
        CreateModel = settings => new SmallCnn(settings.Width, FashionMnist.ClassNames.Length),
    };

    public static TrainingTask SingleLabel(LabelledImages train, LabelledImages test, FashionMnistOptions options, Device device)
    {
        if (options.TrainSamples > train.Count)
            throw new ArgumentOutOfRangeException(nameof(options), options.TrainSamples, $"there are only {train.Count} training images.");
        return new TrainingTask
        {
            Title = "Fashion-MNIST",
            DataDescription = JsonSerializer.Serialize(options),
            ClassNames = FashionMnist.ClassNames,
            SingleLabel = true,
            TrainInputs = Tensor(Scale(train.Pixels.AsSpan(0, options.TrainSamples * train.PixelsPerImage)), options.TrainSamples, device),
            TrainTargets = Classes(train.Labels.AsSpan(0, options.TrainSamples), device),
            ValidationInputs = Tensor(Scale(test.Pixels), test.Count, device),
            ValidationTargets = Classes(test.Labels, device),
            CreateModel = settings => new SmallCnn(settings.Width, FashionMnist.ClassNames.Length),
        };
    }

    private static float[] Scale(ReadOnlySpan<byte> pixels)
    {
        var scaled = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) scaled[i] = pixels[i] / 255f;
        return scaled;
    }

    private static Tensor Tensor(float[] values, int rows, Device device) =>
        torch.tensor(values, [rows, values.Length / rows]).to(device);

    private static Tensor Classes(ReadOnlySpan<byte> labels, Device device)
    {
        var classes = new long[labels.Length];
        for (int i = 0; i < labels.Length; i++) classes[i] = labels[i];
        return torch.tensor(classes).to(device);
    }
}
