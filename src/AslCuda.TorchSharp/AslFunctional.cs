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

    /// <summary>
    /// timm's <c>AsymmetricLossMultiLabel</c> as a function: its arguments and defaults, the sum; see
    /// <see cref="AsymmetricLoss.Timm"/>.
    /// </summary>
    public static Tensor asymmetric_loss_multi_label(Tensor input, Tensor target, double gammaNeg = 4, double gammaPos = 1,
        double clip = 0.05, double eps = 1e-8, bool disableTorchGradFocalLoss = false, AslBackend backend = AslBackend.Auto) =>
        asymmetric_loss(input, target, gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, Reduction.Sum, backend);

    /// <summary>The paper code's loss with AslCuda's extensions; see <see cref="AsymmetricLoss.WithExtensions"/>.</summary>
    public static Tensor asymmetric_loss_with_extensions(Tensor input, Tensor target, double gammaNeg = 4, double gammaPos = 1,
        double clip = 0.05, double eps = 1e-8, bool disableTorchGradFocalLoss = true, AslReduction reduction = AslReduction.Sum,
        double smoothing = 0, Tensor? weight = null, Tensor? posWeight = null, AslBackend backend = AslBackend.Auto)
    {
        var options = MultiLabelLoss.ExtendedOptions(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, reduction, smoothing, weight, posWeight);
        return MultiLabelLoss.Compute(input, target, options, backend, statistics: null);
    }

    /// <summary>Single-label asymmetric loss; see <see cref="AsymmetricLossSingleLabel"/>.</summary>
    public static Tensor asymmetric_loss_single_label(Tensor input, Tensor target, double gammaPos = 0, double gammaNeg = 4,
        double eps = 0.1, Reduction reduction = Reduction.Mean, AslBackend backend = AslBackend.Auto) =>
        SingleLabelLoss.Compute(input, target, SingleLabelLoss.Options(gammaPos, gammaNeg, eps, reduction), backend);
}
