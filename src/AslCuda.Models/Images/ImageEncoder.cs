using SkiaSharp;

namespace AslCuda.Models.Images;

/// <summary>The picture formats <see cref="ImageEncoder"/> writes.</summary>
public enum ImageFileFormat
{
    /// <summary>Lossless: decoding gives back the same pixels.</summary>
    Png,

    /// <summary>Lossy, at the quality given to the encoder.</summary>
    Jpeg,
}

/// <summary>Writes an <see cref="RgbImage"/> as a PNG or JPEG file with SkiaSharp.</summary>
public static class ImageEncoder
{
    /// <summary>Encodes <paramref name="image"/> into <paramref name="path"/>, creating its folder if needed.</summary>
    /// <param name="image">The picture.</param>
    /// <param name="path">The file to write (replaced if it exists).</param>
    /// <param name="format">PNG (lossless) or JPEG.</param>
    /// <param name="jpegQuality">JPEG quality, 1 to 100 (ignored for PNG).</param>
    public static void Save(RgbImage image, string path, ImageFileFormat format = ImageFileFormat.Png, int jpegQuality = 95)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(jpegQuality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(jpegQuality, 100);
        using var encoded = Encode(image, format, jpegQuality);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
        using var file = File.Create(path);
        encoded.SaveTo(file);
    }

    /// <summary>The picture as an opaque SkiaSharp image (a copy of the pixels).</summary>
    internal static SKImage ToSkImage(RgbImage image) =>
        SKImage.FromPixelCopy(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque), image.Pixels)
        ?? throw new InvalidOperationException($"SkiaSharp could not wrap a {image.Width} x {image.Height} picture.");

    private static SKData Encode(RgbImage image, ImageFileFormat format, int jpegQuality)
    {
        using var skImage = ToSkImage(image);
        var encoded = format switch
        {
            ImageFileFormat.Png => skImage.Encode(SKEncodedImageFormat.Png, 100),
            ImageFileFormat.Jpeg => skImage.Encode(SKEncodedImageFormat.Jpeg, jpegQuality),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a picture format this encoder writes."),
        };
        return encoded ?? throw new InvalidOperationException($"SkiaSharp could not encode a {image.Width} x {image.Height} picture as {format}.");
    }
}
