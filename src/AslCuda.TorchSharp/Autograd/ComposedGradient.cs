using AslCuda.TorchSharp.Composed;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>
/// The pieces of the fused functions' backward: scaling the saved gradient by the upstream gradient, and the
/// gradients the fused passes do not produce (a differentiable first derivative for <c>create_graph</c>, d loss /
/// d target), taken from the Composed formula through libtorch's autograd.
/// </summary>
internal static class ComposedGradient
{
    /// <summary>
    /// <paramref name="gradient"/> times the upstream gradient. <c>loss.backward()</c> passes the scalar 1, and then
    /// the saved gradient itself is handed back: no pass, no allocation. Autograd never writes into a gradient it
    /// receives while other references to it exist (the saved variable is one), so a second backward with
    /// retain_graph reads the same values. On CUDA the check would wait for the device, so there it multiplies.
    /// </summary>
    public static Tensor Scale(Tensor gradient, Tensor upstream)
    {
        if (upstream.numel() == 1 && upstream.device.type == DeviceType.CPU && !upstream.requires_grad)
        {
            using var value = upstream.ToScalar();
            if (value.ToDouble() == 1) return gradient;
        }
        // [N] upstream of single-label reduction none scales whole rows.
        return gradient * (upstream.dim() == 1 && gradient.dim() == 2 ? upstream.unsqueeze(1) : upstream);
    }

    /// <summary>
    /// d loss / d input and d loss / d target (each only when wanted) of the Composed multi-label formula for the
    /// upstream gradient <paramref name="upstream"/>; with <paramref name="createGraph"/> both are differentiable
    /// expressions of the saved <paramref name="input"/> and <paramref name="target"/>.
    /// </summary>
    public static (Tensor? Input, Tensor? Target) MultiLabel(Tensor input, Tensor target, AslOptions options, Tensor upstream,
        bool wantInput, bool wantTarget, bool createGraph)
    {
        using var grad = torch.enable_grad();
        var x = createGraph ? input : input.detach().requires_grad_(wantInput);
        var y = createGraph ? target : target.detach().requires_grad_(wantTarget);
        var loss = MultiLabelComposed.Loss(x, y, options);
        return Gradients(loss, x, y, upstream, wantInput, wantTarget, createGraph);
    }

    /// <summary>d loss / d input of the Composed single-label formula, differentiable (for <c>create_graph</c>).</summary>
    public static Tensor SingleLabel(Tensor input, Tensor target, SingleLabelOptions options, Tensor upstream)
    {
        using var grad = torch.enable_grad();
        var loss = SingleLabelComposed.Loss(input, target, options);
        return Gradients(loss, input, target, upstream, wantInput: true, wantTarget: false, createGraph: true).Input!;
    }

    private static (Tensor? Input, Tensor? Target) Gradients(Tensor loss, Tensor x, Tensor y, Tensor upstream,
        bool wantInput, bool wantTarget, bool createGraph)
    {
        var wrt = new List<Tensor>();
        if (wantInput) wrt.Add(x);
        if (wantTarget) wrt.Add(y);
        if (wrt.Count == 0) return (null, null);
        var gradients = torch.autograd.grad([loss], wrt, [upstream], retain_graph: createGraph, create_graph: createGraph);
        return (wantInput ? gradients[0] : null, wantTarget ? gradients[^1] : null);
    }
}
