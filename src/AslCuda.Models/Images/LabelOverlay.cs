using System.Globalization;
using SkiaSharp;

namespace AslCuda.Models.Images;

/// <summary>A class found on a picture, with its probability.</summary>
/// <param name="Name">The class name.</param>
/// <param name="Probability">Its sigmoid output, 0 to 1.</param>
public sealed record DetectedLabel(string Name, float Probability);

/// <summary>
/// Draws detected classes with their probabilities onto a picture (white text on dark boxes in the top-left
/// corner, one line per class, in list order) and writes it as a PNG: <c>aslcuda infer --save</c>. The font
/// size follows the picture (about 1/30 of its larger side, 12 to 48 pixels), shrinks to fit all lines, and
/// lines that still do not fit are summed up as "+ N more". Text needs a font: the one given, else DejaVu Sans
/// (Debian: fonts-dejavu-core) or whatever fontconfig offers; with none that has Latin letters and digits the
/// call fails with what to install, rather than writing a picture without its text.
/// </summary>
public static class LabelOverlay
{
    private const float MinimumFontSize = 9;

    /// <summary>Fonts tried, in order, when no font file is given: by family name (fontconfig), then by path.</summary>
    private static readonly string[] Families = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "FreeSans", "Arial", "Helvetica"];

    private static readonly string[] FontFiles =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
    ];

    /// <summary>A copy of <paramref name="picture"/> with the labels drawn on it.</summary>
    /// <param name="picture">The picture, at its original size.</param>
    /// <param name="labels">The classes to write, in the order to list them.</param>
    /// <param name="fontFile">A TrueType/OpenType file to use instead of the system's font.</param>
    /// <exception cref="InvalidOperationException">No usable font was found (the message says what to install).</exception>
    public static RgbImage Draw(RgbImage picture, IReadOnlyList<DetectedLabel> labels, string? fontFile = null)
    {
        ArgumentNullException.ThrowIfNull(picture);
        ArgumentNullException.ThrowIfNull(labels);
        var output = new RgbImage(picture.Width, picture.Height, (byte[])picture.Pixels.Clone());
        if (labels.Count == 0) return output;

        using var typeface = ResolveTypeface(fontFile);
        var info = new SKImageInfo(picture.Width, picture.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        unsafe
        {
            fixed (byte* pixels = output.Pixels)
            {
                using var surface = SKSurface.Create(info, (IntPtr)pixels, info.RowBytes)
                    ?? throw new InvalidOperationException($"SkiaSharp could not draw on a {picture.Width} x {picture.Height} picture.");
                DrawLines(surface.Canvas, typeface, Lines(labels), picture.Width, picture.Height);
                surface.Canvas.Flush();
            }
        }
        // Drawing writes opaque colours only; the unused fourth byte stays 255.
        return output;
    }

    /// <summary>Draws the labels on <paramref name="picture"/> and writes the result as a PNG to <paramref name="outputPath"/>.</summary>
    public static void Save(RgbImage picture, IReadOnlyList<DetectedLabel> labels, string outputPath, string? fontFile = null) =>
        ImageEncoder.Save(Draw(picture, labels, fontFile), outputPath, ImageFileFormat.Png);

    /// <summary>The typeface for the text; checked to hold Latin letters and digits, so text cannot silently vanish.</summary>
    internal static SKTypeface ResolveTypeface(string? fontFile)
    {
        if (fontFile is not null)
        {
            if (!File.Exists(fontFile)) throw new FileNotFoundException($"{fontFile}: no such font file.", fontFile);
            var given = SKTypeface.FromFile(fontFile)
                ?? throw new InvalidDataException($"{fontFile}: not a font file SkiaSharp can read (TrueType or OpenType).");
            if (!Usable(given))
            {
                given.Dispose();
                throw new InvalidDataException($"{fontFile}: the font lacks Latin letters or digits, which the labels need.");
            }
            return given;
        }
        foreach (string family in Families)
        {
            var candidate = SKFontManager.Default.MatchFamily(family);
            if (candidate is not null && Usable(candidate)) return candidate;
            candidate?.Dispose();
        }
        foreach (string path in FontFiles.Where(File.Exists))
        {
            var candidate = SKTypeface.FromFile(path);
            if (candidate is not null && Usable(candidate)) return candidate;
            candidate?.Dispose();
        }
        throw new InvalidOperationException(
            "no font found to write the labels with: install one (Debian/Ubuntu: apt-get install fonts-dejavu-core; " +
            "Fedora: dejavu-sans-fonts) or pass a .ttf/.otf file.");
    }

    private static bool Usable(SKTypeface typeface)
    {
        using var font = new SKFont(typeface);
        return typeface.GlyphCount > 0 && font.ContainsGlyphs("ABCXYZabcxyz0123456789.%+");
    }

    private static List<string> Lines(IReadOnlyList<DetectedLabel> labels) =>
        labels.Select(l => $"{l.Name} {l.Probability.ToString("0.000", CultureInfo.InvariantCulture)}").ToList();

    private static void DrawLines(SKCanvas canvas, SKTypeface typeface, List<string> lines, int width, int height)
    {
        float size = Math.Clamp(Math.Max(width, height) / 30f, 12f, 48f);
        float margin = Math.Max(2f, size / 4);
        // Shrink until every line fits in the height, down to the smallest readable size; then cut the list.
        while (size > MinimumFontSize && margin + lines.Count * LineHeight(size) > height) size = Math.Max(MinimumFontSize, size * 0.9f);
        int fitting = Math.Max(1, (int)((height - margin) / LineHeight(size)));
        if (lines.Count > fitting)
        {
            int hidden = lines.Count - (fitting - 1);
            lines = [.. lines.Take(fitting - 1), $"+ {hidden} more"];
        }

        using var font = new SKFont(typeface, size) { Edging = SKFontEdging.Antialias };
        using var box = new SKPaint { Color = new SKColor(0, 0, 0, 170), IsAntialias = false };
        using var text = new SKPaint { Color = SKColors.White, IsAntialias = true };
        float padding = size / 5;
        float y = margin;
        foreach (string line in lines)
        {
            float textWidth = font.MeasureText(line);
            canvas.DrawRect(margin, y, textWidth + 2 * padding, LineHeight(size) - padding / 2, box);
            // The baseline sits below the box top by the font's ascent (negative in SkiaSharp's metrics).
            canvas.DrawText(line, margin + padding, y + padding / 2 - font.Metrics.Ascent, SKTextAlign.Left, font, text);
            y += LineHeight(size);
        }
    }

    private static float LineHeight(float size) => size * 1.35f;
}
