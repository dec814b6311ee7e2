using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.TorchSharp;

/// <summary>Functional twins of the ASL modules.</summary>
public static class AslFunctional
{
    /// <summary>Multi-label asymmetric loss; see <see cref="AsymmetricLoss"/>.</summary>
    public static Tensor asymmetric_loss(Tensor input, Tensor target, double gammaNeg = 4, double gammaPos = 1,
        double clip = 0.05, double eps = 1e-8, bool disableTorchGradFocalLoss = true,
        Reduction reduction = Reduction.Sum, AslBackend backend = AslBackend.Auto)
    {
        var options = MultiLabelLoss.Options(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, reduction);
        return MultiLabelLoss.Compute(input, target, options, backend, statistics: null);
    }

    /// <summary>timm's <c>AsymmetricLossMultiLabel</c> as a function; see <see cref="AsymmetricLoss.Timm"/>.</summary>
    public static Tensor asymmetric_loss_multi_label(Tensor input, Tensor target, double gammaNeg = 4, double gammaPos = 1,
        double clip = 0.05, double eps = 1e-8, bool disableTorchGradFocalLoss = false, double smoothing = 0,
        AslReduction reduction = AslReduction.BatchMean, Tensor? weight = null, Tensor? posWeight = null, AslBackend backend = AslBackend.Auto)
    {
        var options = MultiLabelLoss.TimmOptions(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, smoothing, reduction, weight, posWeight);
        return MultiLabelLoss.Compute(input, target, options, backend, statistics: null);
    }

    /// <summary>Single-label asymmetric loss; see <see cref="AsymmetricLossSingleLabel"/>.</summary>
    public static Tensor asymmetric_loss_single_label(Tensor input, Tensor target, double gammaPos = 0, double gammaNeg = 4,
        double eps = 0.1, Reduction reduction = Reduction.Mean, AslBackend backend = AslBackend.Auto) =>
        SingleLabelLoss.Compute(input, target, SingleLabelLoss.Options(gammaPos, gammaNeg, eps, reduction), backend);
}
