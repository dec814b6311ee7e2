using AslCuda.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>The one place that sends a fused single-label call to the CPU pass or the CUDA kernel.</summary>
internal static unsafe class SingleLabelDispatch
{
    /// <summary>
    /// Runs the fused pass over contiguous [N, C] logits and [N] int64/int32 targets; writes d loss / d input into
    /// <paramref name="gradient"/> when it is not null and returns the loss in the input's dtype (a scalar, or [N]
    /// for reduction none).
    /// </summary>
    public static Tensor Run(Tensor input, Tensor target, SingleLabelOptions options, Tensor? gradient)
    {
        if (input.device.type == DeviceType.CUDA)
            throw new NotSupportedException("The CUDA backend for single-label is not built yet: use AslBackend.Composed for CUDA tensors.");
        if (input.device.type != DeviceType.CPU)
            throw new NotSupportedException($"the fused backend runs on CPU and CUDA tensors, not on {input.device}.");

        long rows = input.shape[0], classes = input.shape[1];
        var rowLoss = options.Reduction == AslReduction.None ? torch.empty(rows, input.dtype, input.device) : null;
        double loss = SingleLabelCpu.Compute(
            TensorBridge.ToAslDataType(input.dtype), (void*)TensorBridge.DataPointer(input),
            TensorBridge.ToAslIndexType(target.dtype), (void*)TensorBridge.DataPointer(target),
            rows, classes, options,
            gradient is null ? null : (void*)TensorBridge.DataPointer(gradient),
            rowLoss is null ? null : (void*)TensorBridge.DataPointer(rowLoss));
        return rowLoss ?? torch.tensor(loss, input.dtype, input.device);
    }
}
