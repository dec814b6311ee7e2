using AslCuda.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Autograd;

/// <summary>The one place that sends a fused multi-label call to the CPU pass or the CUDA kernel.</summary>
internal static unsafe class MultiLabelDispatch
{
    /// <summary>
    /// Runs the fused pass; writes d loss / d input into <paramref name="gradient"/> when it is not null and
    /// returns the loss in the input's dtype (a scalar, or [N, C] for reduction none).
    /// </summary>
    public static Tensor Run(Tensor input, Tensor target, AslOptions options, Tensor? gradient, StatisticsBox? statistics)
    {
        var elementLoss = options.Reduction == AslReduction.None ? torch.empty_like(input) : null;
        if (input.device.type == DeviceType.CUDA)
            throw new NotSupportedException("The CUDA backend is not built yet: use AslBackend.Composed for CUDA tensors.");
        if (input.device.type != DeviceType.CPU)
            throw new NotSupportedException($"the fused backend runs on CPU and CUDA tensors, not on {input.device}.");

        double loss = MultiLabelCpu.Compute(
            TensorBridge.ToAslDataType(input.dtype), (void*)TensorBridge.DataPointer(input),
            TensorBridge.ToAslDataType(target.dtype), (void*)TensorBridge.DataPointer(target),
            input.numel(), options,
            gradient is null ? null : (void*)TensorBridge.DataPointer(gradient),
            elementLoss is null ? null : (void*)TensorBridge.DataPointer(elementLoss),
            out var stats, statistics is not null);
        if (statistics is not null) statistics.Value = stats;
        return elementLoss ?? torch.tensor(loss, input.dtype, input.device);
    }
}
