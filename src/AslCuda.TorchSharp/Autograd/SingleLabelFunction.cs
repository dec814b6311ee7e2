using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>
/// The fused single-label ASL as a TorchSharp autograd function: forward runs one pass that yields the loss and
/// d loss / d input together and saves the gradient; backward only scales it by the upstream gradient (per row for
/// reduction none). Arguments: input (contiguous [N, C] logits), target (contiguous [N] int64/int32),
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
        ctx.save_for_backward([gradient]);
        ctx.mark_non_differentiable([target]);
        return loss;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var gradient = ctx.get_saved_variables()[0];
        var upstream = grad_output.dim() == 1 ? grad_output.unsqueeze(1) : grad_output;    // [N] for reduction none
        return [gradient * upstream, null!, null!];      // one entry per forward argument
    }
}
