using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Models.Images;

/// <summary>
/// Pictures to the model's input: float32 = byte / 255 in channel-first order (R, G, B planes), with no mean/std
/// normalisation: the official scripts feed [0, 1] values (validate.py's Normalize has mean 0, std 1). For every
/// byte, float32 division by 255 equals the float64 quotient rounded to float32, so numpy's and torch's ways of
/// writing it give the same values.
/// </summary>
public static class ImageTensors
{
    /// <summary>Writes the picture as [3, height, width] floats in [0, 1] into <paramref name="destination"/>.</summary>
    public static void WriteChannelFirst(RgbImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        int plane = image.Width * image.Height;
        if (destination.Length != 3L * plane)
            throw new ArgumentException($"destination has {destination.Length} floats; a {image.Width} x {image.Height} picture needs {3L * plane} (3 x height x width).", nameof(destination));
        var red = destination[..plane];
        var green = destination.Slice(plane, plane);
        var blue = destination.Slice(2 * plane, plane);
        ReadOnlySpan<byte> pixels = image.Pixels;
        for (int p = 0; p < plane; p++)
        {
            int i = p * RgbImage.BytesPerPixel;
            red[p] = pixels[i] / 255f;
            green[p] = pixels[i + 1] / 255f;
            blue[p] = pixels[i + 2] / 255f;
        }
    }

    /// <summary>The picture as a float32 CPU tensor [3, height, width] in [0, 1].</summary>
    public static Tensor ToTensor(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var values = new float[3L * image.Width * image.Height];
        WriteChannelFirst(image, values);
        return torch.tensor(values, [3, image.Height, image.Width]);
    }

    /// <summary>Pictures of one size as a float32 CPU tensor [count, 3, height, width] in [0, 1], in list order.</summary>
    public static Tensor Batch(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("a batch needs at least one picture.", nameof(images));
        int width = images[0].Width, height = images[0].Height;
        long perImage = 3L * width * height;
        var values = new float[images.Count * perImage];
        for (int b = 0; b < images.Count; b++)
        {
            var image = images[b];
            if (image.Width != width || image.Height != height)
                throw new ArgumentException($"picture {b} is {image.Width} x {image.Height} but picture 0 is {width} x {height}; resize them to one size first.", nameof(images));
            WriteChannelFirst(image, values.AsSpan((int)(b * perImage), (int)perImage));
        }
        return torch.tensor(values, [images.Count, 3, height, width]);
    }
}
