namespace AslCuda.Models.Images;

/// <summary>
/// An 8-bit RGB picture, what Pillow's <c>Image.convert('RGB')</c> holds. Pixels are stored row-major with
/// four bytes each, R, G, B and an unused fourth byte kept at 255 (Pillow stores RGB the same way); the
/// padding lets the resampler handle a pixel as one 32-bit lane.
/// </summary>
public sealed class RgbImage
{
    /// <summary>Bytes per stored pixel (R, G, B, unused).</summary>
    public const int BytesPerPixel = 4;

    /// <summary>A black picture of the given size.</summary>
    public RgbImage(int width, int height)
    {
        long length = CheckedLength(width, height);
        Width = width;
        Height = height;
        Pixels = new byte[length];
        for (long i = 3; i < length; i += BytesPerPixel) Pixels[i] = 255;
    }

    /// <summary>Wraps <paramref name="pixels"/> (4 bytes per pixel, row-major) without copying.</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        long length = CheckedLength(width, height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != length)
            throw new ArgumentException($"pixels has {pixels.LongLength} bytes; a {width} x {height} picture needs {length} (4 per pixel).", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Row-major pixels, 4 bytes each (R, G, B, unused).</summary>
    public byte[] Pixels { get; }

    /// <summary>The red, green and blue values of pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            if ((uint)x >= (uint)Width) throw new ArgumentOutOfRangeException(nameof(x), x, $"the picture is {Width} pixels wide.");
            if ((uint)y >= (uint)Height) throw new ArgumentOutOfRangeException(nameof(y), y, $"the picture is {Height} pixels high.");
            long i = ((long)y * Width + x) * BytesPerPixel;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>Three bytes per pixel, row-major: the layout of Pillow's <c>tobytes()</c> for an RGB image.</summary>
    public byte[] ToRgbBytes()
    {
        long count = (long)Width * Height;
        var rgb = new byte[count * 3];
        for (long p = 0; p < count; p++)
        {
            rgb[3 * p] = Pixels[BytesPerPixel * p];
            rgb[3 * p + 1] = Pixels[BytesPerPixel * p + 1];
            rgb[3 * p + 2] = Pixels[BytesPerPixel * p + 2];
        }
        return rgb;
    }

    /// <summary>A picture from three bytes per pixel, row-major (R, G, B).</summary>
    public static RgbImage FromRgbBytes(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var image = new RgbImage(width, height);
        long count = (long)width * height;
        if (rgb.Length != count * 3)
            throw new ArgumentException($"rgb has {rgb.Length} bytes; a {width} x {height} picture needs {count * 3} (3 per pixel).", nameof(rgb));
        for (long p = 0; p < count; p++)
        {
            image.Pixels[BytesPerPixel * p] = rgb[(int)(3 * p)];
            image.Pixels[BytesPerPixel * p + 1] = rgb[(int)(3 * p + 1)];
            image.Pixels[BytesPerPixel * p + 2] = rgb[(int)(3 * p + 2)];
        }
        return image;
    }

    /// <summary>A picture whose three channels all equal <paramref name="grey"/> (one byte per pixel, row-major).</summary>
    public static RgbImage FromGrey(ReadOnlySpan<byte> grey, int width, int height)
    {
        var image = new RgbImage(width, height);
        long count = (long)width * height;
        if (grey.Length != count)
            throw new ArgumentException($"grey has {grey.Length} bytes; a {width} x {height} picture needs {count}.", nameof(grey));
        for (long p = 0; p < count; p++)
        {
            byte v = grey[(int)p];
            image.Pixels[BytesPerPixel * p] = v;
            image.Pixels[BytesPerPixel * p + 1] = v;
            image.Pixels[BytesPerPixel * p + 2] = v;
        }
        return image;
    }

    private static long CheckedLength(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        long length = (long)width * height * BytesPerPixel;
        if (length > Array.MaxLength)
            throw new ArgumentException($"a {width} x {height} picture needs {length} bytes, more than one .NET array can hold.");
        return length;
    }
}
