using AslCuda.Models.Coco;
using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;
using AslCuda.Train.Images;

namespace AslCuda.Models.Tests.Coco;

public class FashionMnistCocoTests
{
    [Test]
    public void ExportReadsBackAsTheMosaicsWithTheirLabels()
    {
        using var folder = new TempDirectory("fashion-coco");
        var mosaics = FashionMnistCoco.Export(folder.Path, count: 30);
        var data = CocoDataSet.Open(folder.Path);

        Assert.That(data.Categories.Select(c => c.Id), Is.EqualTo(FashionMnistCoco.CategoryIds));
        Assert.That(data.ClassNames, Is.EqualTo(FashionMnist.ClassNames));
        Assert.That(data.Samples, Has.Count.EqualTo(30), "every mosaic holds at least one item");
        int side = mosaics.Side;
        for (int m = 0; m < mosaics.Count; m++)
        {
            var sample = data.Samples[m];
            Assert.That(sample.Targets, Is.EqualTo(mosaics.Targets.AsSpan(m * 10, 10).ToArray()), $"mosaic {m}");
            if (!sample.Path.EndsWith(".png", StringComparison.Ordinal)) continue;
            var picture = ImageDecoder.Decode(sample.Path);
            Assert.That((picture.Width, picture.Height), Is.EqualTo((side, side)));
            var expected = mosaics.Pixels.AsSpan(m * side * side, side * side).ToArray().Select(v => (byte)Math.Round(v * 255));
            Assert.That(Enumerable.Range(0, side * side).Select(p => picture.Pixels[4 * p]), Is.EqualTo(expected), $"mosaic {m} PNG is lossless");
        }
    }

    [Test]
    public void RealMosaicPicturesDecodeAndResizeToPillowsPixels()
    {
        using var folder = new TempDirectory("fashion-pil");
        FashionMnistCoco.Export(folder.Path, count: 12, grid: 3);
        var data = CocoDataSet.Open(folder.Path);
        var jobs = new List<object>();
        var expected = new List<(string Path, int Size, ResampleFilter Filter, string Out)>();
        foreach (var sample in data.Samples)
        foreach (var (size, filter) in new[] { (448, ResampleFilter.Bicubic), (224, ResampleFilter.Bilinear), (61, ResampleFilter.Bicubic), (37, ResampleFilter.Bilinear) })
        {
            string output = folder.File($"{expected.Count}.rgb");
            jobs.Add(new { op = "resize", path = sample.Path, width = size, height = size, filter = filter.ToString().ToLowerInvariant(), @out = output });
            expected.Add((sample.Path, size, filter, output));
        }
        var results = PillowOracle.Run(jobs);
        for (int i = 0; i < expected.Count; i++)
        {
            var (rgb, _, _, error) = PillowOracle.ReadResult(results[i], expected[i].Out);
            Assert.That(error, Is.Null);
            var ours = ImagePreprocessing.LoadResized(expected[i].Path, expected[i].Size, expected[i].Filter).ToRgbBytes();
            var difference = PixelDifference.Of(rgb, ours);
            Assert.That(difference.Max, Is.Zero, $"{expected[i].Path} -> {expected[i].Size} {expected[i].Filter}: {difference}");
        }
    }
}
