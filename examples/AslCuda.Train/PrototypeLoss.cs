using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Train;

// TEMPORARY: stands in for AsymmetricLoss until main's TorchSharp layer lands (for tuning the data set only).
internal sealed class PrototypeLoss(double gammaNeg, double gammaPos, double clip)
{
    public double GammaNeg { get; set; } = gammaNeg;
    public AslStatistics? LastStatistics { get; private set; }

    public Tensor call(Tensor x, Tensor y)
    {
        var p = torch.sigmoid(x);
        var xn = clip > 0 ? (1 - p + clip).clamp(max: 1) : 1 - p;
        var l0 = y * p.clamp(min: 1e-8).log() + (1 - y) * xn.clamp(min: 1e-8).log();
        Tensor w;
        using (torch.no_grad())
        {
            var pt = p * y + xn * (1 - y);
            var g = gammaPos * y + GammaNeg * (1 - y);
            w = (1 - pt).pow(g);
        }
        using (torch.no_grad())
        {
            var pd = p.to(ScalarType.Float64); var yd = y.to(ScalarType.Float64);
            LastStatistics = new AslStatistics((pd * yd).sum().item<double>(), yd.sum().item<double>(),
                (pd * (1 - yd)).sum().item<double>(), (1 - yd).sum().item<double>());
        }
        return -(l0 * w).sum();
    }
}
