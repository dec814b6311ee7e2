using AslCuda.Models.Images;
using BenchmarkDotNet.Attributes;

namespace AslCuda.Bench;

/// <summary>
/// The official scripts' preprocessing of one COCO-sized picture on one thread: decode a 640 x 427 JPEG (the size
/// of COCO val images and of the ASL repository's example picture), resize to 448 x 448 (TResNet-L's input) with
/// Pillow's bicubic (infer) and bilinear (validate) filters, and the whole path to a [3, 448, 448] tensor.
/// The picture is a seeded synthetic one (smooth areas, edges, noise) encoded at quality 90, so no file is needed.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class ImagePreprocessingBenchmarks
{
    private string _jpeg = "";
    private RgbImage _decoded = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        var picture = new RgbImage(640, 427);
        for (int y = 0; y < 427; y++)
        for (int x = 0; x < 640; x++)
        {
            int i = (y * 640 + x) * RgbImage.BytesPerPixel;
            bool block = (x / 80 + y / 60) % 3 == 0;
            picture.Pixels[i] = (byte)Math.Clamp(127 + 100 * Math.Sin(x * 0.03) + random.Next(-12, 13), 0, 255);
            picture.Pixels[i + 1] = (byte)Math.Clamp((block ? 220 : 60) + random.Next(-12, 13), 0, 255);
            picture.Pixels[i + 2] = (byte)Math.Clamp(127 + 100 * Math.Cos(y * 0.05) + random.Next(-12, 13), 0, 255);
        }
        _jpeg = Path.Combine(Path.GetTempPath(), $"aslcuda-bench-{Environment.ProcessId}.jpg");
        ImageEncoder.Save(picture, _jpeg, ImageFileFormat.Jpeg, 90);
        _decoded = ImageDecoder.Decode(_jpeg);
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_jpeg);

    [Benchmark]
    public RgbImage Decode640x427() => ImageDecoder.Decode(_jpeg);

    [Benchmark]
    public RgbImage ResizeBicubic448() => PillowResize.Resize(_decoded, 448, 448, ResampleFilter.Bicubic);

    [Benchmark]
    public RgbImage ResizeBilinear448() => PillowResize.Resize(_decoded, 448, 448, ResampleFilter.Bilinear);

    /// <summary>infer's path for one picture: decode, bicubic 448, float tensor.</summary>
    [Benchmark(Baseline = true)]
    public long DecodeResizeTensorBicubic448()
    {
        using var tensor = ImagePreprocessing.LoadTensor(_jpeg, 448, ResampleFilter.Bicubic);
        return tensor.shape[0];
    }
}
