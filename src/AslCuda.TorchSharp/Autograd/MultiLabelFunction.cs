using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>
/// The fused multi-label ASL as a TorchSharp autograd function: forward runs one pass that yields the loss
/// and d loss / d input together and saves the gradient; backward hands that gradient back (scaled by the
/// upstream gradient unless that is the scalar 1). Arguments: input (contiguous logits), target (contiguous,
/// float32 or uint8/bool), <see cref="AslOptions"/>, <see cref="StatisticsBox"/> (or null).
/// </summary>
/// <remarks>
/// Two cases leave the fused gradient for the Composed formula's ops (<see cref="ComposedGradient"/>): a backward
/// that builds a graph (<c>create_graph</c>, e.g. a gradient penalty), which needs the first derivative as a
/// differentiable expression of the input, and a target that requires grad (soft targets from a teacher), whose
/// gradient the fused pass does not produce. Both are rare and cost one Composed forward and backward.
/// </remarks>
internal sealed class MultiLabelFunction : autograd.SingleTensorFunction<MultiLabelFunction>
{
    public override string Name => nameof(MultiLabelFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var target = (Tensor)vars[1];
        var options = (AslOptions)vars[2];
        var statistics = (StatisticsBox?)vars[3];
        var gradient = input.requires_grad ? torch.empty_like(input) : null;
        var loss = MultiLabelDispatch.Run(input, target, options, gradient, statistics);
        // The input and target are saved (no copy) for the Composed cases above.
        ctx.save_for_backward([gradient!, input, target]);
        ctx.save_data(nameof(AslOptions), options);
        // No mark_non_differentiable: it is for outputs, and TorchSharp 0.107 passes that list to libtorch from
        // an array it has already unpinned (a compacting GC then made wrapOutputs crash).
        return loss;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        // An exception here would cross libtorch's native autograd engine and end the process, so every check
        // that can fail happened in forward; one entry per forward argument.
        var saved = ctx.get_saved_variables();
        Tensor? gradient = saved[0], input = saved[1], target = saved[2];
        bool createGraph = torch.is_grad_enabled();           // the engine runs backward in grad mode iff create_graph
        if (createGraph || target.requires_grad)
        {
            // Without a graph the fused gradient is the input's, and cheaper: Composed gives only what it lacks.
            bool composedInput = createGraph && input.requires_grad;
            var options = (AslOptions)ctx.get_data(nameof(AslOptions));
            var (inputGradient, targetGradient) = ComposedGradient.MultiLabel(input, target, options, grad_output,
                wantInput: composedInput, wantTarget: target.requires_grad, createGraph);
            if (!composedInput && gradient is not null) inputGradient = ComposedGradient.Scale(gradient, grad_output);
            return [inputGradient!, targetGradient!, null!, null!];
        }
        return [gradient is null ? null! : ComposedGradient.Scale(gradient, grad_output), null!, null!, null!];
    }
}

/// <summary>Carries the statistics of one call out of the autograd function.</summary>
internal sealed class StatisticsBox
{
    public AslStatistics Value { get; private set; }

    /// <summary>
    /// Keeps the statistics of a batch whose loss is finite; a NaN loss (a NaN logit somewhere) makes them NaN, so
    /// that adaptive asymmetry leaves gamma_neg alone instead of reading a NaN logit as p = 0.
    /// </summary>
    public void Set(AslStatistics statistics, double loss) =>
        Value = double.IsNaN(loss) ? new AslStatistics(double.NaN, double.NaN, double.NaN, double.NaN) : statistics;
}
