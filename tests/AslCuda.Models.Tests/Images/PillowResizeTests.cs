using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Images;

public class PillowResizeTests
{
    /// <summary>Source and target sizes: 1 x N and N x 1, enlarging, shrinking by odd factors, one axis only, the scripts' sizes.</summary>
    private static readonly (int Width, int Height, int ToWidth, int ToHeight)[] Sizes =
    [
        (1, 50, 1, 20), (1, 50, 7, 13), (50, 1, 20, 1), (50, 1, 13, 7), (1, 1, 5, 5),
        (10, 7, 33, 50), (99, 63, 33, 21), (125, 75, 25, 15), (77, 77, 11, 11), (1000, 10, 7, 3),
        (40, 30, 41, 30), (40, 30, 40, 29), (40, 30, 40, 30), (300, 100, 64, 64), (3, 3, 448, 448),
        (640, 427, 448, 448), (500, 375, 224, 224), (333, 500, 448, 448),
    ];

    [Test]
    public void SyntheticPicturesResizeToPillowsPixels([Values] ResampleFilter filter)
    {
        using var folder = new TempDirectory("resize");
        var sources = Sizes.Select((s, i) => folder.File($"source{i}-{s.Width}x{s.Height}.png")).ToArray();
        PillowOracle.Run(Sizes.Select((s, i) => (object)new { op = "synthetic", path = sources[i], width = s.Width, height = s.Height, seed = i }).ToList());
        var jobs = Sizes.Select((s, i) => new ResizeJob(sources[i], s.ToWidth, s.ToHeight)).ToArray();
        AssertSameAsPillow(jobs, filter, folder);
    }

    [Test]
    public void RealPicturesResizeToPillowsPixels([Values] ResampleFilter filter)
    {
        var pictures = RealPictures.Find(limit: 12);
        if (pictures.Count == 0) Assert.Ignore("no real pictures on this machine (apt-get install python3-skimage, or set ASLCUDA_REAL_PICTURES)");
        using var folder = new TempDirectory("resize-real");
        var jobs = pictures.SelectMany(p => new[] { new ResizeJob(p, 448, 448), new ResizeJob(p, 224, 224), new ResizeJob(p, 97, 131) }).ToArray();
        AssertSameAsPillow(jobs, filter, folder);
    }

    [Test]
    public void BilinearEqualsTorchvisionResizeOnPilPictures()
    {
        using var folder = new TempDirectory("torchvision");
        string source = folder.File("source.png");
        PillowOracle.Run([new { op = "synthetic", path = source, width = 640, height = 427, seed = 9 }]);
        var image = ImageDecoder.Decode(source);
        int[] sizes = [224, 448, 640];
        var results = PillowOracle.Run(sizes.Select(size => (object)new { op = "torchvision", path = source, size, @out = folder.File($"tv{size}.rgb") }).ToList());
        for (int i = 0; i < sizes.Length; i++)
        {
            var (expected, width, height, error) = PillowOracle.ReadResult(results[i], folder.File($"tv{sizes[i]}.rgb"));
            Assert.That(error, Is.Null);
            Assert.That((width, height), Is.EqualTo((sizes[i], sizes[i])));
            var difference = PixelDifference.Of(expected, PillowResize.Resize(image, sizes[i], sizes[i], ImagePreprocessing.ValidateFilter).ToRgbBytes());
            Assert.That(difference.Max, Is.Zero, $"{sizes[i]}: {difference}");
        }
    }

    [Test]
    public void BilinearHalvingMatchesHandComputedWeights()
    {
        // Shrinking 6 -> 3 (scale 2): the triangle is stretched to support 2 and its argument halved. Output 0 is
        // centred on 1.0 and takes sources 0..2 at distances 0.5, 0.5, 1.5: weights 0.75, 0.75, 0.25, normalised
        // 3/7, 3/7, 1/7; sources 0, 70, 140 give 50. Output 1 (centre 3.0) takes 1..4 at 1.5, 0.5, 0.5, 1.5:
        // 1/8, 3/8, 3/8, 1/8 of 70, 140, 210, 140 = 157.5, rounded half up to 158. Output 2 (centre 5.0) takes
        // 3..5 (the edge cuts the fourth tap): 1/7, 3/7, 3/7 of 210, 140, 70 = 120.
        byte[] row = [0, 70, 140, 210, 140, 70];
        var image = RgbImage.FromGrey(row, 6, 1);
        var resized = PillowResize.Resize(image, 3, 1, ResampleFilter.Bilinear);
        Assert.That(Enumerable.Range(0, 3).Select(x => resized[x, 0].R), Is.EqualTo(new byte[] { 50, 158, 120 }));
    }

    [Test]
    public void ConstantPicturesStayConstantAndTheBicubicOvershootIsClipped()
    {
        var grey = new byte[17 * 9];
        Array.Fill(grey, (byte)201);
        foreach (var filter in Enum.GetValues<ResampleFilter>())
        {
            var resized = PillowResize.Resize(RgbImage.FromGrey(grey, 17, 9), 31, 4, filter);
            Assert.That(resized.ToRgbBytes(), Is.All.EqualTo(201), filter.ToString());
        }
        // A white-black step: the cubic's negative lobes overshoot below 0 and above 255 and must be clipped.
        byte[] step = [255, 255, 255, 0, 0, 0];
        var enlarged = PillowResize.Resize(RgbImage.FromGrey(step, 6, 1), 24, 1, ResampleFilter.Bicubic);
        var values = Enumerable.Range(0, 24).Select(x => (int)enlarged[x, 0].R).ToArray();
        Assert.That(values[0], Is.EqualTo(255));
        Assert.That(values[^1], Is.EqualTo(0));
        Assert.That(values, Is.Ordered.Descending);
    }

    [Test]
    public void TheUnusedFourthByteStays255()
    {
        var image = RgbImage.FromGrey(Enumerable.Range(0, 35).Select(i => (byte)(i * 7)).ToArray(), 7, 5);
        var resized = PillowResize.Resize(image, 12, 3, ResampleFilter.Bicubic);
        for (int i = 3; i < resized.Pixels.Length; i += 4) Assert.That(resized.Pixels[i], Is.EqualTo(255));
    }

    [Test]
    public void BadSizesAreRefused()
    {
        var image = new RgbImage(4, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => PillowResize.Resize(image, 0, 4, ResampleFilter.Bicubic));
        Assert.Throws<ArgumentOutOfRangeException>(() => PillowResize.Resize(image, 4, -1, ResampleFilter.Bilinear));
        Assert.Throws<ArgumentOutOfRangeException>(() => PillowResize.Resize(image, 4, 4, (ResampleFilter)7));
    }

    private sealed record ResizeJob(string Path, int Width, int Height);

    private static void AssertSameAsPillow(IReadOnlyList<ResizeJob> jobs, ResampleFilter filter, TempDirectory scratch)
    {
        string filterName = filter.ToString().ToLowerInvariant();
        var outputs = jobs.Select((j, i) => scratch.File($"pillow-{i}.rgb")).ToArray();
        var results = PillowOracle.Run(jobs.Select((j, i) =>
            (object)new { op = "resize", path = j.Path, width = j.Width, height = j.Height, filter = filterName, @out = outputs[i] }).ToList());
        var mismatches = new List<string>();
        var decoded = new Dictionary<string, RgbImage>();
        for (int i = 0; i < jobs.Count; i++)
        {
            var (expected, width, height, error) = PillowOracle.ReadResult(results[i], outputs[i]);
            if (error is not null) continue; // a file Pillow cannot read (the decoder tests cover those)
            Assert.That((width, height), Is.EqualTo((jobs[i].Width, jobs[i].Height)));
            if (!decoded.TryGetValue(jobs[i].Path, out var source)) decoded[jobs[i].Path] = source = ImageDecoder.Decode(jobs[i].Path);
            var difference = PixelDifference.Of(expected, PillowResize.Resize(source, jobs[i].Width, jobs[i].Height, filter).ToRgbBytes());
            if (difference.Max != 0)
                mismatches.Add($"{jobs[i].Path} {source.Width}x{source.Height} -> {jobs[i].Width}x{jobs[i].Height} {filter}: {difference}");
        }
        Assert.That(mismatches, Is.Empty);
    }
}
