using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>
/// The fused single-label ASL as a TorchSharp autograd function: forward runs one pass that yields the loss and
/// d loss / d input together and saves the gradient; backward hands it back, scaled by the upstream gradient (per row
/// for reduction none) unless that is the scalar 1. Arguments: input (contiguous [N, C] logits), target (contiguous [N] int64/int32),
/// <see cref="SingleLabelOptions"/>.
/// </summary>
internal sealed class SingleLabelFunction : autograd.SingleTensorFunction<SingleLabelFunction>
{
    public override string Name => nameof(SingleLabelFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var target = (Tensor)vars[1];
        var options = (SingleLabelOptions)vars[2];
        var gradient = torch.empty_like(input);
        var loss = SingleLabelDispatch.Run(input, target, options, gradient);
        // The input and target are saved (no copy) for a backward with create_graph, see backward.
        ctx.save_for_backward([gradient, input, target]);
        ctx.save_data(nameof(SingleLabelOptions), options);
        // No mark_non_differentiable: it is for outputs, and TorchSharp 0.107 passes that list to libtorch from
        // an array it has already unpinned (a compacting GC then made wrapOutputs crash). The target (class
        // indices) gets no gradient.
        return loss;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        // Nothing here may throw (it would end the process inside libtorch's engine); one entry per forward argument.
        var saved = ctx.get_saved_variables();
        // The engine runs backward in grad mode iff create_graph: then the first derivative must be a differentiable
        // expression of the input (a gradient penalty), which the Composed formula's ops give.
        var gradient = torch.is_grad_enabled()
            ? ComposedGradient.SingleLabel(saved[1], saved[2], (SingleLabelOptions)ctx.get_data(nameof(SingleLabelOptions)), grad_output)
            : ComposedGradient.Scale(saved[0], grad_output);
        return [gradient, null!, null!];
    }
}
