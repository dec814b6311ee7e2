using AslCuda.TorchSharp.Autograd;
using AslCuda.TorchSharp.Composed;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp;

/// <summary>Checks a single-label call once and runs it on the chosen backend.</summary>
internal static class SingleLabelLoss
{
    /// <summary>Options from the paper code's parameter names (shared by the module and the functional form).</summary>
    public static SingleLabelOptions Options(double gammaPos, double gammaNeg, double eps, nn.Reduction reduction) => new()
    {
        GammaPos = gammaPos, GammaNeg = gammaNeg, Eps = eps, Reduction = TensorBridge.ToAslReduction(reduction),
    };

    public static Tensor Compute(Tensor input, Tensor target, SingleLabelOptions options, AslBackend backend)
    {
        ArgumentNullException.ThrowIfNull(options);
        TensorBridge.CheckUsable(input, nameof(input));
        TensorBridge.CheckUsable(target, nameof(target));
        TensorBridge.CheckFloatingInput(input);
        _ = TensorBridge.ToAslIndexType(target.dtype);                 // int64 or int32 class indices, else a clear error
        if (input.dim() != 2)
            throw new ArgumentException($"input must be [N, C] logits, got shape {TensorBridge.Format(input.shape)}.", nameof(input));
        if (target.dim() != 1)
            throw new ArgumentException($"target must be [N] class indices, got shape {TensorBridge.Format(target.shape)}.", nameof(target));
        if (input.shape[0] != target.shape[0])
            throw new ArgumentException(
                $"input has {input.shape[0]} rows (shape {TensorBridge.Format(input.shape)}) but target has {target.shape[0]} " +
                $"(shape {TensorBridge.Format(target.shape)}); they must match.", nameof(target));
        TensorBridge.CheckSameDevice(input, target);

        switch (Resolve(backend, input.device.type, input.shape[1]))
        {
            case AslBackend.Composed:
                CheckClassRange(target, input.shape[1]);
                return SingleLabelComposed.Loss(input, target, options);
            case AslBackend.Auto or AslBackend.Fused:
                return Fused(input, target, options);
            default:
                throw new ArgumentOutOfRangeException(nameof(backend), backend, "unknown backend.");
        }
    }

    /// <summary>The backend that runs: Auto is the fused pass, except on CUDA rows wider than the kernel's
    /// <see cref="AslCuda.Gpu.SingleLabelLayout.MaxClasses"/> classes, which go to the composed formula instead of failing.</summary>
    internal static AslBackend Resolve(AslBackend backend, DeviceType device, long classes) =>
        backend == AslBackend.Auto && device == DeviceType.CUDA && classes > AslCuda.Gpu.SingleLabelLayout.MaxClasses ? AslBackend.Composed : backend;

    /// <summary>
    /// The fused CPU pass checks the targets itself; the composed formula would fail inside scatter with libtorch's
    /// message (or a device assert on CUDA), and the CUDA kernel only turns a bad row NaN, so both get the same
    /// check, with the same words, first.
    /// </summary>
    internal static void CheckClassRange(Tensor target, long classes)
    {
        using var scope = torch.NewDisposeScope();
        var outside = (target < 0).logical_or(target >= classes).nonzero();
        if (outside.shape[0] == 0) return;
        long row = outside[0, 0].item<long>();
        throw new ArgumentException($"target[{row}] = {target[row].ToInt64()} is not a class index in [0, {classes}).", nameof(target));
    }

    private static Tensor Fused(Tensor input, Tensor target, SingleLabelOptions options)
    {
        using var scope = torch.NewDisposeScope();
        var x = input.contiguous();
        var t = target.contiguous();
        Tensor loss;
        if (TensorBridge.NeedsGradient(input))
            loss = TensorBridge.GuardAgainstSecondBackward(SingleLabelFunction.apply(x, t, options));
        else
            using (torch.no_grad())
                loss = SingleLabelDispatch.Run(x, t, options, gradient: null);
        return loss.MoveToOuterDisposeScope();
    }
}
