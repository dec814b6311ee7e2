using static TorchSharp.torch;

namespace AslCuda.Models.Images;

/// <summary>
/// The official scripts' preprocessing in one call: decode and convert to RGB (<see cref="ImageDecoder"/>),
/// resize to size x size without keeping the aspect ratio (<see cref="PillowResize"/>), scale to [0, 1]
/// channel-first (<see cref="ImageTensors"/>). infer.py resizes with <see cref="InferFilter"/> (Pillow's default
/// for RGB), validate.py with <see cref="ValidateFilter"/> (torchvision's Resize). infer.py itself skips the RGB
/// conversion (grey, palette or RGBA pictures fail or misbehave there); converting first is the harmless fix, and
/// for RGB pictures, such as COCO's colour JPEGs, the pixels are the same.
/// </summary>
public static class ImagePreprocessing
{
    /// <summary>infer.py's filter: Pillow's default for RGB pictures (Pillow 7 and later).</summary>
    public const ResampleFilter InferFilter = ResampleFilter.Bicubic;

    /// <summary>validate.py's filter: torchvision's <c>Resize((S, S))</c> on a PIL picture.</summary>
    public const ResampleFilter ValidateFilter = ResampleFilter.Bilinear;

    /// <summary>Decodes the picture at <paramref name="path"/> and resizes it to <paramref name="size"/> x <paramref name="size"/>.</summary>
    public static RgbImage LoadResized(string path, int size, ResampleFilter filter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        return PillowResize.Resize(ImageDecoder.Decode(path), size, size, filter);
    }

    /// <summary>The picture at <paramref name="path"/> as the model's input: float32 [3, size, size] in [0, 1].</summary>
    public static Tensor LoadTensor(string path, int size, ResampleFilter filter) =>
        ImageTensors.ToTensor(LoadResized(path, size, filter));
}
