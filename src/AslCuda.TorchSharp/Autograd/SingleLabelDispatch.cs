using AslCuda.Cpu;
using AslCuda.Gpu;
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
        long rows = input.shape[0], classes = input.shape[1];
        var rowLoss = options.Reduction == AslReduction.None ? torch.empty(rows, input.dtype, input.device) : null;
        if (input.device.type == DeviceType.CUDA)
            return RunCuda(input, target, options, gradient, rowLoss);
        if (input.device.type != DeviceType.CPU)
            throw new NotSupportedException($"the fused backend runs on CPU and CUDA tensors, not on {input.device}; use AslBackend.Composed.");

        double loss = SingleLabelCpu.Compute(
            TensorBridge.ToAslDataType(input.dtype), (void*)TensorBridge.DataPointer(input),
            TensorBridge.ToAslIndexType(target.dtype), (void*)TensorBridge.DataPointer(target),
            rows, classes, options,
            gradient is null ? null : (void*)TensorBridge.DataPointer(gradient),
            rowLoss is null ? null : (void*)TensorBridge.DataPointer(rowLoss));
        return rowLoss ?? torch.tensor(loss, input.dtype, input.device);
    }

    /// <summary>
    /// One kernel launch (plus the reduction's finisher) on the tensor's device, default stream. The kernel
    /// never indexes with a bad target (its row turns NaN), but the caller gets the same clear error as on CPU:
    /// the range check is one small reduction over the targets and a wait for its answer.
    /// </summary>
    private static Tensor RunCuda(Tensor input, Tensor target, SingleLabelOptions options, Tensor? gradient, Tensor? rowLoss)
    {
        SingleLabelLoss.CheckClassRange(target, input.shape[1]);
        var lossOutput = torch.empty(1, ScalarType.Float32, input.device);
        SingleLabelGpu.Launch((int)input.device.index,
            TensorBridge.ToAslDataType(input.dtype), TensorBridge.DataPointer(input),
            TensorBridge.ToAslIndexType(target.dtype), TensorBridge.DataPointer(target),
            input.shape[0], input.shape[1], options,
            gradient is null ? 0 : TensorBridge.DataPointer(gradient),
            rowLoss is null ? 0 : TensorBridge.DataPointer(rowLoss),
            TensorBridge.DataPointer(lossOutput));
        return rowLoss ?? lossOutput.reshape([]).to_type(input.dtype);
    }
}
