using AslCuda.Models.Coco;
using AslCuda.Models.Images;
using AslCuda.Train.Images;

namespace AslCuda.Models.Tests.Coco;

/// <summary>
/// Real pictures in the COCO validation layout: Fashion-MNIST test images (Debian's dataset-fashion-mnist) made
/// into multi-label mosaics by the training example's own builder (<see cref="Mosaics"/>), written as grey PNGs
/// and JPEGs with an instances json. The 10 classes map onto 10 COCO category ids chosen at the edges of COCO's
/// id gaps, listed in Fashion-MNIST's class order, so class index = Fashion-MNIST label. The mosaic builder
/// records which classes a mosaic holds, not where, so each annotation's box is the whole mosaic (validate.py
/// ignores boxes; only the area bucket, which does not change the target, reads them).
/// </summary>
internal static class FashionMnistCoco
{
    /// <summary>The COCO ids the 10 classes are given, in Fashion-MNIST class order.</summary>
    public static readonly long[] CategoryIds = [1, 11, 13, 25, 27, 28, 31, 44, 46, 90];

    public static void RequireDataset()
    {
        if (File.Exists(Path.Combine(FashionMnist.DebianDirectory, "t10k-labels-idx1-ubyte.gz"))) return;
        string message = $"Fashion-MNIST is not in {FashionMnist.DebianDirectory} (apt-get install dataset-fashion-mnist)";
        if (Environment.GetEnvironmentVariable("ASLCUDA_REQUIRE_FASHION_MNIST") == "1")
            Assert.Fail("ASLCUDA_REQUIRE_FASHION_MNIST=1 but " + message);
        Assert.Ignore(message + "; ASLCUDA_REQUIRE_FASHION_MNIST=1 makes this a failure");
    }

    /// <summary>
    /// Writes <paramref name="count"/> mosaics (every third one a JPEG) into <paramref name="dataFolder"/> and
    /// returns them as the builder made them.
    /// </summary>
    public static Mosaics Export(string dataFolder, int count, int grid = 2, int seed = 7)
    {
        RequireDataset();
        var test = FashionMnist.LoadTest(FashionMnist.DebianDirectory);
        var options = new MosaicOptions { Grid = grid, Seed = seed };
        var mosaics = Mosaics.Build(test, FashionMnist.ClassNames.Length, count, options, new Random(seed));

        var categories = FashionMnist.ClassNames.Select((name, k) => new CocoCategory(CategoryIds[k], name)).ToArray();
        var images = new List<CocoLayoutImage>();
        var annotations = new List<CocoLayoutAnnotation>();
        int side = mosaics.Side;
        for (int m = 0; m < mosaics.Count; m++)
        {
            // The builder scales bytes by 1 / 255 in float; rounding * 255 gives the bytes back exactly.
            var grey = mosaics.Pixels.AsSpan(m * side * side, side * side).ToArray().Select(v => (byte)Math.Round(v * 255)).ToArray();
            long id = 1000 + m;
            var format = m % 3 == 2 ? ImageFileFormat.Jpeg : ImageFileFormat.Png;
            images.Add(new CocoLayoutImage(id, $"mosaic_{m:D5}{(format == ImageFileFormat.Png ? ".png" : ".jpg")}", RgbImage.FromGrey(grey, side, side), format, 90));
            for (int k = 0; k < mosaics.Classes; k++)
                if (mosaics.Targets[m * mosaics.Classes + k] == 1)
                    annotations.Add(new CocoLayoutAnnotation(id, CategoryIds[k], 0, 0, side, side));
        }
        CocoLayoutWriter.Write(dataFolder, categories, images, annotations);
        return mosaics;
    }
}
