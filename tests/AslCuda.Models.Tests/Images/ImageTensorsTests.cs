using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Images;

public class ImageTensorsTests
{
    [Test]
    public void PixelsBecomeChannelFirstBytesOver255()
    {
        // 3 x 2 picture: pixel (x, y) = (10x + y, 100 + x, 255 - y).
        var rgb = new byte[3 * 2 * 3];
        for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
        {
            int i = (y * 3 + x) * 3;
            (rgb[i], rgb[i + 1], rgb[i + 2]) = ((byte)(10 * x + y), (byte)(100 + x), (byte)(255 - y));
        }
        using var tensor = ImageTensors.ToTensor(RgbImage.FromRgbBytes(rgb, 3, 2));

        Assert.That(tensor.shape, Is.EqualTo(new long[] { 3, 2, 3 }));
        Assert.That(tensor.dtype, Is.EqualTo(global::TorchSharp.torch.ScalarType.Float32));
        for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
        {
            Assert.That(tensor[0, y, x].item<float>(), Is.EqualTo((10 * x + y) / 255f));
            Assert.That(tensor[1, y, x].item<float>(), Is.EqualTo((100 + x) / 255f));
            Assert.That(tensor[2, y, x].item<float>(), Is.EqualTo((255 - y) / 255f));
        }
    }

    [Test]
    public void BatchStacksPicturesInOrderAndRefusesMixedSizes()
    {
        var a = RgbImage.FromGrey([0, 51, 102, 153], 2, 2);
        var b = RgbImage.FromGrey([255, 204, 153, 102], 2, 2);
        using var batch = ImageTensors.Batch([a, b]);
        using var first = ImageTensors.ToTensor(a);
        using var second = ImageTensors.ToTensor(b);
        Assert.That(batch.shape, Is.EqualTo(new long[] { 2, 3, 2, 2 }));
        Assert.That(batch[0].data<float>().ToArray(), Is.EqualTo(first.data<float>().ToArray()));
        Assert.That(batch[1].data<float>().ToArray(), Is.EqualTo(second.data<float>().ToArray()));

        var e = Assert.Throws<ArgumentException>(() => ImageTensors.Batch([a, new RgbImage(3, 2)]))!;
        Assert.That(e.Message, Does.Contain("picture 1 is 3 x 2 but picture 0 is 2 x 2"));
        Assert.Throws<ArgumentException>(() => ImageTensors.Batch([]));
    }

    [Test]
    public void LoadTensorIsDecodeResizeAndScale()
    {
        using var folder = new TempDirectory("tensor");
        string path = folder.File("p.png");
        var picture = RgbImage.FromGrey(Enumerable.Range(0, 7 * 5).Select(i => (byte)(i * 7)).ToArray(), 7, 5);
        ImageEncoder.Save(picture, path);
        using var tensor = ImagePreprocessing.LoadTensor(path, 4, ImagePreprocessing.InferFilter);
        using var expected = ImageTensors.ToTensor(PillowResize.Resize(picture, 4, 4, ResampleFilter.Bicubic));
        Assert.That(tensor.data<float>().ToArray(), Is.EqualTo(expected.data<float>().ToArray()));
        Assert.That(ImagePreprocessing.InferFilter, Is.EqualTo(ResampleFilter.Bicubic));
        Assert.That(ImagePreprocessing.ValidateFilter, Is.EqualTo(ResampleFilter.Bilinear));
    }

    [Test]
    public void RgbImageChecksItsArguments()
    {
        Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[15]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RgbImage(0, 2));
        Assert.Throws<ArgumentException>(() => RgbImage.FromRgbBytes(new byte[5], 1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RgbImage(2, 2)[2, 0]);
        Assert.Throws<ArgumentException>(() => new RgbImage(100_000, 100_000));
    }
}
