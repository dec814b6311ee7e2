using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Images;

public class LabelOverlayTests
{
    private static RgbImage MidGrey(int width, int height)
    {
        var grey = new byte[width * height];
        Array.Fill(grey, (byte)128);
        return RgbImage.FromGrey(grey, width, height);
    }

    [Test]
    public void TextIsActuallyDrawnInTheTopLeftAndTheRestIsUntouched()
    {
        var picture = MidGrey(640, 427);
        var drawn = LabelOverlay.Draw(picture, [new DetectedLabel("person", 0.987f), new DetectedLabel("dining table", 0.75f)]);

        // The label area (font ~21 px: two lines in the top 70 rows, left 250 columns) holds both the dark box and
        // bright glyph pixels; a typeface that renders nothing would leave only the box.
        int dark = 0, bright = 0;
        for (int y = 0; y < 70; y++)
        for (int x = 0; x < 250; x++)
        {
            var (r, g, b) = drawn[x, y];
            Assert.That(r == g && g == b, "white text on black boxes over grey stays grey");
            if (r < 80) dark++;
            if (r > 200) bright++;
        }
        Assert.That(dark, Is.GreaterThan(3000), "boxes");
        Assert.That(bright, Is.GreaterThan(300), "glyphs");
        for (int y = 100; y < 427; y++)
        for (int x = 0; x < 640; x++)
            Assert.That(drawn[x, y], Is.EqualTo(((byte)128, (byte)128, (byte)128)), $"({x}, {y}) is outside the labels");
        Assert.That(picture[5, 5], Is.EqualTo(((byte)128, (byte)128, (byte)128)), "the input is not changed");
    }

    [Test]
    public void DifferentTextGivesDifferentPixels()
    {
        var picture = MidGrey(300, 200);
        var cat = LabelOverlay.Draw(picture, [new DetectedLabel("cat", 0.9f)]);
        var dog = LabelOverlay.Draw(picture, [new DetectedLabel("dog", 0.9f)]);
        Assert.That(cat.Pixels, Is.Not.EqualTo(dog.Pixels));
    }

    [Test]
    public void SavedPngDecodesToTheDrawnPixels()
    {
        using var folder = new TempDirectory("overlay");
        var picture = MidGrey(97, 61);
        string output = folder.File("sub/labelled.png");
        var labels = new[] { new DetectedLabel("bicycle", 0.71f) };
        LabelOverlay.Save(picture, labels, output);
        Assert.That(ImageDecoder.Decode(output).Pixels, Is.EqualTo(LabelOverlay.Draw(picture, labels).Pixels));
    }

    [Test]
    public void ManyLabelsOnASmallPictureEndWithACount()
    {
        var picture = MidGrey(120, 60);
        var labels = Enumerable.Range(0, 30).Select(i => new DetectedLabel($"class {i}", 0.9f)).ToArray();
        var drawn = LabelOverlay.Draw(picture, labels);
        Assert.That(drawn.Pixels, Is.Not.EqualTo(picture.Pixels));
        Assert.That(drawn[119, 59], Is.EqualTo(((byte)128, (byte)128, (byte)128)), "the lines stop inside the picture");
    }

    [Test]
    public void NoLabelsLeaveThePictureAsItIs()
    {
        var picture = MidGrey(40, 30);
        Assert.That(LabelOverlay.Draw(picture, []).Pixels, Is.EqualTo(picture.Pixels));
    }

    [Test]
    public void BadFontFilesAreRefusedNamingThem()
    {
        using var folder = new TempDirectory("font");
        string missing = folder.File("missing.ttf");
        var notFound = Assert.Throws<FileNotFoundException>(() => LabelOverlay.Draw(MidGrey(8, 8), [new DetectedLabel("a", 1)], missing))!;
        Assert.That(notFound.Message, Does.StartWith(missing));
        string text = folder.File("notes.ttf");
        File.WriteAllText(text, "not a font");
        var invalid = Assert.Throws<InvalidDataException>(() => LabelOverlay.Draw(MidGrey(8, 8), [new DetectedLabel("a", 1)], text))!;
        Assert.That(invalid.Message, Does.StartWith(text + ": not a font file"));
    }

    [Test]
    public void AGivenFontFileIsUsed()
    {
        const string dejaVu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
        const string mono = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
        if (!File.Exists(dejaVu) || !File.Exists(mono)) Assert.Ignore("DejaVu fonts not installed (apt-get install fonts-dejavu-core)");
        var picture = MidGrey(200, 100);
        var labels = new[] { new DetectedLabel("mmm iii", 0.5f) };
        Assert.That(LabelOverlay.Draw(picture, labels, mono).Pixels, Is.Not.EqualTo(LabelOverlay.Draw(picture, labels, dejaVu).Pixels));
    }
}
