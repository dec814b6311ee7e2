using System.Runtime.InteropServices;
using SkiaSharp;

namespace AslCuda.Models.Images;

/// <summary>
/// Decodes a picture file into the RGB pixels that Pillow 9.4's <c>Image.open(path).convert('RGB')</c> gives,
/// the input of both official scripts. SkiaSharp decodes (JPEG through libjpeg-turbo, as Pillow): checked equal,
/// byte for byte, to Pillow on JPEGs (baseline 4:4:4, 4:2:2, 4:2:0, progressive, greyscale, CMYK), PNGs (grey,
/// grey + alpha, palette with and without transparency, RGB, RGBA, 1 bit, 16 bits), GIF (first frame), BMP and
/// WebP. The conversion rules are Pillow's: grey is copied to the three channels, a palette is looked up,
/// transparency and alpha are dropped (not composited onto a background), 16-bit colour keeps the high byte,
/// 16-bit grey is clipped to 0..255 (see <see cref="GreyPng16"/>). No colour management (ICC profiles and gamma
/// chunks are ignored) and no EXIF rotation: Pillow's <c>Image.open</c> applies neither.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Decodes the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a picture this decoder reads, or it is truncated or corrupt; the message names the file.</exception>
    public static RgbImage Decode(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }
        catch (DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{path}: no such file (its folder does not exist).", path);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{path}: cannot be read ({e.Message}).", e);
        }
        return Decode(data, path);
    }

    /// <summary>Decodes an encoded picture held in memory; <paramref name="name"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">Not a picture this decoder reads, or truncated or corrupt.</exception>
    public static RgbImage Decode(byte[] encoded, string name)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        ArgumentNullException.ThrowIfNull(name);
        if (encoded.Length == 0) throw new InvalidDataException($"{name}: the file is empty, not a picture.");
        if (GreyPng16.Matches(encoded)) return GreyPng16.Decode(encoded, name);
        if (JpegMarkers.IsJpeg(encoded) && !JpegMarkers.ReachesEndOfImage(encoded))
            throw new InvalidDataException($"{name}: the picture could not be decoded: the file is truncated (it ends before the JPEG end-of-image marker).");

        using var data = SKData.CreateCopy(encoded);
        // The codec takes ownership of the stream (also when it fails to open one).
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var opened);
        if (codec is null)
            throw new InvalidDataException(
                $"{name}: not a picture that can be decoded ({Describe(opened)}); JPEG, PNG, GIF, BMP, WebP, ICO and WBMP are read.");

        var info = codec.Info;
        long bytes = (long)info.Width * info.Height * RgbImage.BytesPerPixel;
        if (info.Width <= 0 || info.Height <= 0 || bytes > Array.MaxLength)
            throw new InvalidDataException($"{name}: a {info.Width} x {info.Height} picture is too large to decode here.");

        // Unpremultiplied RGBA without a colour space: the stored colour values, no alpha blending, no colour transform.
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = new byte[bytes];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* destination = pixels)
                result = codec.GetPixels(target, (IntPtr)destination);
        }
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"{name}: the picture could not be decoded: {Describe(result)}.");

        // Pillow's convert('RGB') drops alpha; the fourth byte of RgbImage is the unused padding, 255.
        var words = MemoryMarshal.Cast<byte, uint>(pixels.AsSpan());
        uint opaque = BitConverter.IsLittleEndian ? 0xFF000000u : 0x000000FFu;
        for (int i = 0; i < words.Length; i++) words[i] |= opaque;
        return new RgbImage(info.Width, info.Height, pixels);
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the file is truncated",
        SKCodecResult.ErrorInInput => "the file is corrupt",
        SKCodecResult.InvalidInput => "the data is not a known picture format",
        SKCodecResult.Unimplemented => "this variant of the format is not supported",
        SKCodecResult.InternalError => "the decoder failed",
        _ => result.ToString(),
    };
}
