namespace AslCuda.Train.Images;

/// <summary>Labelled 28 x 28 grey images: pixels [count, 28 * 28] as bytes, one class index per image.</summary>
internal sealed record LabelledImages(byte[] Pixels, byte[] Labels, int Side)
{
    public int Count => Labels.Length;
    public int PixelsPerImage => Side * Side;

    /// <summary>Pairs an images file with its labels file, checking that they describe the same items.</summary>
    public static LabelledImages FromIdx(IdxArray images, IdxArray labels, string source)
    {
        if (images.Shape.Length != 3 || images.Shape[1] != images.Shape[2])
            throw new InvalidDataException($"{source}: images have shape [{string.Join(", ", images.Shape)}], expected [count, side, side]");
        if (labels.Shape.Length != 1 || labels.Count != images.Count)
            throw new InvalidDataException($"{source}: {labels.Count} labels of shape [{string.Join(", ", labels.Shape)}] for {images.Count} images");
        return new LabelledImages(images.Values, labels.Values, images.Shape[1]);
    }
}

/// <summary>Fashion-MNIST (Zalando Research): 60 000 training and 10 000 test images, 10 classes.</summary>
internal static class FashionMnist
{
    /// <summary>Where Debian's package dataset-fashion-mnist installs the four IDX files (gzip-compressed).</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    public static readonly string[] ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    public static LabelledImages LoadTrain(string directory) => Load(directory, "train");

    public static LabelledImages LoadTest(string directory) => Load(directory, "t10k");

    private static LabelledImages Load(string directory, string split)
    {
        string images = Find(directory, $"{split}-images-idx3-ubyte");
        string labels = Find(directory, $"{split}-labels-idx1-ubyte");
        var loaded = LabelledImages.FromIdx(IdxFile.Read(images), IdxFile.Read(labels), images);
        int outOfRange = loaded.Labels.Count(l => l >= ClassNames.Length);
        if (outOfRange > 0)
            throw new InvalidDataException($"{labels}: {outOfRange} labels are not Fashion-MNIST classes 0 to {ClassNames.Length - 1}");
        return loaded;
    }

    /// <summary>The file as Debian ships it (.gz) or decompressed.</summary>
    private static string Find(string directory, string name)
    {
        foreach (string candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException(
            $"{name}(.gz) is not in {directory}. Install Debian's package (apt-get install dataset-fashion-mnist, or ./build.sh train-images " +
            "as root, which installs it) or pass --dataset-dir with a folder that holds the four Fashion-MNIST IDX files.");
    }
}
