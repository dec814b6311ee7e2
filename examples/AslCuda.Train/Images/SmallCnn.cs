using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AslCuda.Train.Images;

/// <summary>
/// A small CNN for one-channel images: three strided 3 x 3 convolutions (each halves the resolution; the first is
/// 5 x 5) with ReLU, a global max pool, one logit per class. The max pool lets a class fire wherever its item sits
/// in a mosaic; the strides keep a CPU epoch short.
/// </summary>
internal sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d first;
    private readonly Conv2d second;
    private readonly Conv2d third;
    private readonly Linear output;

    /// <param name="channels">Channels of the first convolution; the next two have twice and four times as many.</param>
    public SmallCnn(int channels, int classes) : base(nameof(SmallCnn))
    {
        first = nn.Conv2d(1, channels, kernel_size: 5, stride: 2, padding: 2);
        second = nn.Conv2d(channels, 2 * channels, kernel_size: 3, stride: 2, padding: 1);
        third = nn.Conv2d(2 * channels, 4 * channels, kernel_size: 3, stride: 2, padding: 1);
        output = nn.Linear(4 * channels, classes);
        RegisterComponents();
    }

    /// <summary>Input [N, side * side] or [N, 1, side, side]; output [N, classes].</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() == 2)
        {
            long side = (long)Math.Round(Math.Sqrt(x.shape[1]));
            x = x.view(x.shape[0], 1, side, side);
        }
        var features = nn.functional.relu(third.call(nn.functional.relu(second.call(nn.functional.relu(first.call(x))))));
        return output.call(features.amax([2, 3]));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            first.Dispose();
            second.Dispose();
            third.Dispose();
            output.Dispose();
        }
        base.Dispose(disposing);
    }
}
