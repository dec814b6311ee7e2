using System.Runtime.InteropServices;
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
    /// <summary>b / 255f for every byte b: the same floats as the division, looked up.</summary>
    private static readonly float[] Scaled = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

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
        ReadOnlySpan<float> scaled = Scaled;
        for (int p = 0; p < plane; p++)
        {
            int i = p * RgbImage.BytesPerPixel;
            red[p] = scaled[pixels[i]];
            green[p] = scaled[pixels[i + 1]];
            blue[p] = scaled[pixels[i + 2]];
        }
    }

    /// <summary>The picture as a float32 CPU tensor [3, height, width] in [0, 1].</summary>
    public static Tensor ToTensor(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        // Written straight into the tensor's memory: no managed float array (a large-object-heap allocation per picture).
        var tensor = torch.empty([3, image.Height, image.Width], ScalarType.Float32);
        WriteChannelFirst(image, Floats(tensor));
        return tensor;
    }

    /// <summary>Pictures of one size as a float32 CPU tensor [count, 3, height, width] in [0, 1], in list order.</summary>
    public static Tensor Batch(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("a batch needs at least one picture.", nameof(images));
        int width = images[0].Width, height = images[0].Height;
        int perImage = 3 * width * height;
        for (int b = 0; b < images.Count; b++)
        {
            if (images[b].Width != width || images[b].Height != height)
                throw new ArgumentException($"picture {b} is {images[b].Width} x {images[b].Height} but picture 0 is {width} x {height}; resize them to one size first.", nameof(images));
        }
        if ((long)images.Count * perImage * sizeof(float) > int.MaxValue)
            throw new ArgumentException($"{images.Count} pictures of {width} x {height} take more than 2 GiB as float32; make smaller batches.", nameof(images));
        var tensor = torch.empty([images.Count, 3, height, width], ScalarType.Float32);
        var values = Floats(tensor);
        for (int b = 0; b < images.Count; b++) WriteChannelFirst(images[b], values.Slice(b * perImage, perImage));
        return tensor;
    }

    /// <summary>The memory of a new contiguous float32 CPU tensor as floats (a view, not a copy).</summary>
    internal static Span<float> Floats(Tensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.bytes);
}
