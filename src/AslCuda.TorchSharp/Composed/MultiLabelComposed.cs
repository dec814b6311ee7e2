using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Composed;

/// <summary>
/// The paper code's AsymmetricLoss (ASL.md section 1) written with TorchSharp ops, step for step, in the
/// input's dtype; libtorch differentiates it. It is the independent second oracle for the fused backends.
/// AslCuda's extensions (smoothing, pos_weight, per-class weight, batchmean; docs/extensions.md) enter where that page
/// puts them: pos_weight and the class weight as PyTorch's BCEWithLogitsLoss applies them.
/// </summary>
internal static class MultiLabelComposed
{
    public static Tensor Loss(Tensor input, Tensor target, AslOptions options)
    {
        using var scope = torch.NewDisposeScope();
        var y = target.to_type(input.dtype);
        if (options.Smoothing > 0)
            y = y * (1 - options.Smoothing) + 0.5 * options.Smoothing;
        var xsPos = input.sigmoid();
        var xsNeg = 1 - xsPos;
        if (options.Clip > 0)
            xsNeg = (xsNeg + options.Clip).clamp(max: 1);
        var losPos = y * xsPos.clamp(min: options.Eps).log();
        if (options.PosWeight.Length > 0)
            losPos = losPos * ClassVector(options.PosWeight, input);
        var losNeg = (1 - y) * xsNeg.clamp(min: options.Eps).log();
        var loss = losPos + losNeg;
        if (options.HasFocusing)
            loss = loss * FocalWeight(xsPos, xsNeg, y, options);
        loss = -loss;
        if (options.ClassWeight.Length > 0)
            loss = loss * ClassVector(options.ClassWeight, input);
        return Reduce(loss, options.Reduction).MoveToOuterDisposeScope();
    }

    /// <summary>The batch statistics of adaptive asymmetry, from the same probabilities (ASL.md section 3).</summary>
    public static AslStatistics Statistics(Tensor input, Tensor target)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var p = input.to_type(ScalarType.Float64).sigmoid();
        var y = target.to_type(ScalarType.Float64);
        return new AslStatistics(
            (p * y).sum().item<double>(), y.sum().item<double>(),
            (p * (1 - y)).sum().item<double>(), (1 - y).sum().item<double>());
    }

    private static Tensor FocalWeight(Tensor xsPos, Tensor xsNeg, Tensor y, AslOptions options)
    {
        // disable_torch_grad_focal_loss: the weight is built without a graph, so it is a constant.
        using var noGrad = options.DetachFocalWeight ? torch.no_grad() : null;
        var pt = xsPos * y + xsNeg * (1 - y);
        var gamma = options.GammaPos * y + options.GammaNeg * (1 - y);
        return (1 - pt).pow(gamma);
    }

    /// <summary>A [C] (or one-value) factor vector on the input's device and dtype; it broadcasts over the rows.</summary>
    private static Tensor ClassVector(ReadOnlyMemory<float> values, Tensor input) =>
        torch.tensor(values.ToArray(), device: input.device).to_type(input.dtype);

    private static Tensor Reduce(Tensor loss, AslReduction reduction) => reduction switch
    {
        AslReduction.None => loss,
        AslReduction.Mean => loss.mean(),
        // batchmean: the sum over classes and rows, divided by the rows (an empty batch gives NaN, as 0/0).
        AslReduction.BatchMean => loss.sum() / loss.shape[0],
        _ => loss.sum(),
    };
}
