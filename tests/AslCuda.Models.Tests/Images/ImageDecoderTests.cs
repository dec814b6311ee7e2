using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Images;

public class ImageDecoderTests
{
    [Test]
    public void EveryPictureModeDecodesToPillowsRgbPixels()
    {
        using var folder = new TempDirectory("decode");
        var made = PillowOracle.Run([new { op = "make", dir = folder.Path, seed = 20 }])[0];
        var files = made["files"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
        Assert.That(files, Has.Length.GreaterThanOrEqualTo(25));
        AssertSameAsPillow(files.Select(folder.File).ToArray(), folder);
    }

    [Test]
    public void RealPicturesDecodeToPillowsRgbPixels()
    {
        var pictures = RealPictures.Find();
        if (pictures.Count == 0) Assert.Ignore("no real pictures on this machine (apt-get install python3-skimage, or set ASLCUDA_REAL_PICTURES)");
        using var folder = new TempDirectory("decode-real");
        AssertSameAsPillow(pictures, folder);
    }

    [Test]
    public void ExifOrientationIsNotApplied()
    {
        using var folder = new TempDirectory("exif");
        PillowOracle.Run([new { op = "make", dir = folder.Path, seed = 3 }]);
        var rotated = ImageDecoder.Decode(folder.File("exif_rotated.jpg"));
        var plain = ImageDecoder.Decode(folder.File("rgb_subsampling2.jpg"));
        Assert.That((rotated.Width, rotated.Height), Is.EqualTo((97, 61)), "stored orientation, as Pillow's Image.open");
        Assert.That(rotated.Pixels, Is.EqualTo(plain.Pixels), "same encoder settings, only the EXIF tag differs");
    }

    [Test]
    public void TruncatedPicturesAreRefusedWherePillowRefusesThemAndDecodedAlikeWhereItReadsThem()
    {
        using var folder = new TempDirectory("truncated");
        PillowOracle.Run([new { op = "make", dir = folder.Path, seed = 4 }]);
        var cuts = new List<string>();
        foreach (string name in new[] { "rgb_subsampling2.jpg", "rgb_progressive.jpg", "grey.jpg", "rgb.png", "palette.png", "grey16_low.png", "grey16_interlaced.png" })
        {
            var whole = File.ReadAllBytes(folder.File(name));
            // From the header to the last byte. A progressive JPEG cut late still has every pixel from its first
            // scans; a PNG cut inside its last chunks (IEND, the IDAT CRC, zlib's checksum) still has every pixel.
            foreach (int length in new[] { 40, whole.Length / 3, whole.Length * 2 / 3, whole.Length - 20, whole.Length - 14, whole.Length - 3, whole.Length - 1 })
            {
                string cut = folder.File($"cut{length}-{name}");
                File.WriteAllBytes(cut, whole.AsSpan(0, length).ToArray());
                cuts.Add(cut);
            }
        }
        var refusedByPillow = AssertSameAsPillow(cuts, folder);
        Assert.That(refusedByPillow, Is.GreaterThanOrEqualTo(cuts.Count / 2), "most cuts are refused");
    }

    [Test]
    public void BytesAfterTheJpegEndMarkerAreAllowedAsInPillow()
    {
        using var folder = new TempDirectory("trailing");
        PillowOracle.Run([new { op = "make", dir = folder.Path, seed = 6 }]);
        string padded = folder.File("padded.jpg");
        File.WriteAllBytes(padded, [.. File.ReadAllBytes(folder.File("rgb_progressive.jpg")), .. "trailing bytes"u8]);
        AssertSameAsPillow([padded], folder);
    }

    [Test]
    public void FilesThatAreNotPicturesAreRefusedNamingTheFile()
    {
        using var folder = new TempDirectory("notpicture");
        string text = folder.File("notes.jpg");
        File.WriteAllText(text, "this is not a picture, only text with a .jpg name\n");
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(text));
        Assert.That(e!.Message, Does.StartWith(text + ": not a picture"));

        string empty = folder.File("empty.png");
        File.WriteAllBytes(empty, []);
        Assert.That(Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(empty))!.Message, Does.StartWith(empty + ": the file is empty"));

        string missing = folder.File("missing.jpg");
        var notFound = Assert.Throws<FileNotFoundException>(() => ImageDecoder.Decode(missing));
        Assert.That(notFound!.Message, Does.StartWith(missing + ": no such file"));
        Assert.That(notFound.FileName, Is.EqualTo(missing));
    }

    [Test]
    public void CorruptGrey16PngIsRefusedNamingTheFile()
    {
        using var folder = new TempDirectory("corrupt16");
        PillowOracle.Run([new { op = "make", dir = folder.Path, seed = 5 }]);
        var bytes = File.ReadAllBytes(folder.File("grey16_low.png"));
        bytes[^20] ^= 0x55; // inside the IDAT chunk: its CRC no longer matches
        string broken = folder.File("broken16.png");
        File.WriteAllBytes(broken, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(broken));
        Assert.That(e!.Message, Does.StartWith(broken + ": not a readable 16-bit greyscale PNG"));
    }

    /// <summary>
    /// Each file decoded here and by Pillow: the same bytes where Pillow reads it, an error naming the file where
    /// it does not. Returns how many Pillow refused.
    /// </summary>
    private static int AssertSameAsPillow(IReadOnlyList<string> files, TempDirectory scratch)
    {
        var outputs = files.Select((f, i) => scratch.File($"pillow-{i}.rgb")).ToArray();
        var results = PillowOracle.Run(files.Select((f, i) => (object)new { op = "rgb", path = f, @out = outputs[i] }).ToList());
        var mismatches = new List<string>();
        int refusedByPillow = 0;
        for (int i = 0; i < files.Count; i++)
        {
            var (expected, width, height, error) = PillowOracle.ReadResult(results[i], outputs[i]);
            RgbImage image;
            try
            {
                image = ImageDecoder.Decode(files[i]);
            }
            catch (InvalidDataException e)
            {
                Assert.That(e.Message, Does.StartWith(files[i] + ":"));
                if (error is null) mismatches.Add($"{files[i]}: refused ({e.Message}) but Pillow reads it");
                else refusedByPillow++;
                continue;
            }
            if (error is not null)
            {
                mismatches.Add($"{files[i]}: decoded but Pillow refuses it ({error})");
                continue;
            }
            if ((image.Width, image.Height) != (width, height))
            {
                mismatches.Add($"{files[i]}: {image.Width} x {image.Height}, Pillow {width} x {height}");
                continue;
            }
            var difference = PixelDifference.Of(expected, image.ToRgbBytes());
            if (difference.Max != 0) mismatches.Add($"{files[i]} ({results[i]["mode"]}): {difference}");
        }
        Assert.That(mismatches, Is.Empty);
        return refusedByPillow;
    }
}
