using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>
/// The fused multi-label ASL as a TorchSharp autograd function: forward runs one pass that yields the loss
/// and d loss / d input together and saves the gradient; backward only scales it by the upstream gradient.
/// Arguments: input (contiguous logits), target (contiguous, float32 or uint8/bool), <see cref="AslOptions"/>,
/// <see cref="StatisticsBox"/> (or null).
/// </summary>
internal sealed class MultiLabelFunction : autograd.SingleTensorFunction<MultiLabelFunction>
{
    public override string Name => nameof(MultiLabelFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var target = (Tensor)vars[1];
        var options = (AslOptions)vars[2];
        var statistics = (StatisticsBox?)vars[3];
        var gradient = torch.empty_like(input);
        var loss = MultiLabelDispatch.Run(input, target, options, gradient, statistics);
        ctx.save_for_backward([gradient]);
        // No mark_non_differentiable: it is for outputs, and TorchSharp 0.107 passes that list to libtorch from
        // an array it has already unpinned (a compacting GC then made wrapOutputs crash). The target simply gets
        // no gradient from backward.
        return loss;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var gradient = ctx.get_saved_variables()[0];
        // One entry per forward argument; only the input gets a gradient. (An exception here would cross
        // libtorch's native autograd engine and end the process, so nothing in backward may throw.)
        return [gradient * grad_output, null!, null!, null!];
    }
}

/// <summary>Carries the statistics of one call out of the autograd function.</summary>
internal sealed class StatisticsBox
{
    public AslStatistics Value { get; set; }
}
