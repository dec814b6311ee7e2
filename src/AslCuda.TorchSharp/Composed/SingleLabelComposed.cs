using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Composed;

/// <summary>
/// The paper code's ASLSingleLabel (ASL.md section 2) written with TorchSharp ops, step for step, in the input's
/// dtype; libtorch differentiates it, through the focusing weight too (it is not detached in this variant). It is
/// the independent second oracle for the fused backends.
/// </summary>
internal static class SingleLabelComposed
{
    public static Tensor Loss(Tensor input, Tensor target, SingleLabelOptions options)
    {
        using var scope = torch.NewDisposeScope();
        long classes = input.shape[1];
        var logPreds = input.log_softmax(1);
        var index = target.to_type(ScalarType.Int64).unsqueeze(1);
        var targets = torch.zeros_like(input).scatter_(1, index, torch.ones_like(index, input.dtype));
        var antiTargets = 1 - targets;
        var xsPos = logPreds.exp();
        var xsNeg = 1 - xsPos;
        xsPos = xsPos * targets;
        xsNeg = xsNeg * antiTargets;
        var weight = (1 - xsPos - xsNeg).pow(options.GammaPos * targets + options.GammaNeg * antiTargets);
        logPreds = logPreds * weight;
        var smoothed = options.Eps > 0 ? targets * (1 - options.Eps) + options.Eps / classes : targets;
        var loss = -(smoothed * logPreds).sum(1);
        return Reduce(loss, options.Reduction).MoveToOuterDisposeScope();
    }

    private static Tensor Reduce(Tensor rowLoss, AslReduction reduction) => reduction switch
    {
        AslReduction.None => rowLoss,
        AslReduction.Mean => rowLoss.mean(),
        _ => rowLoss.sum(),
    };
}
