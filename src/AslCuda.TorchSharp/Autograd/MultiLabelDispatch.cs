using AslCuda.Cpu;
using AslCuda.Gpu;
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
            return RunCuda(input, target, options, gradient, elementLoss, statistics);
        if (input.device.type != DeviceType.CPU)
            throw new NotSupportedException($"the fused backend runs on CPU and CUDA tensors, not on {input.device}; use AslBackend.Composed.");

        double loss = MultiLabelCpu.Compute(
            TensorBridge.ToAslDataType(input.dtype), (void*)TensorBridge.DataPointer(input),
            TensorBridge.ToAslDataType(target.dtype), (void*)TensorBridge.DataPointer(target),
            input.numel(), options,
            gradient is null ? null : (void*)TensorBridge.DataPointer(gradient),
            elementLoss is null ? null : (void*)TensorBridge.DataPointer(elementLoss),
            out var stats, statistics is not null, Classes(input));
        statistics?.Set(stats, loss);
        return elementLoss ?? torch.tensor(loss, input.dtype, input.device);
    }

    /// <summary>C of an [N, C] input, for batchmean and the per-class factors; 0 for other shapes (which need neither).</summary>
    private static int Classes(Tensor input) => input.dim() == 2 ? checked((int)input.shape[1]) : 0;

    /// <summary>One kernel launch (its last block reduces the loss) on the tensor's device, default stream.</summary>
    private static Tensor RunCuda(Tensor input, Tensor target, AslOptions options, Tensor? gradient, Tensor? elementLoss, StatisticsBox? statistics)
    {
        var lossOutput = torch.empty(1, ScalarType.Float32, input.device);
        var statisticsOutput = statistics is null ? null : torch.empty(4, ScalarType.Float64, input.device);
        MultiLabelGpu.Launch((int)input.device.index,
            TensorBridge.ToAslDataType(input.dtype), TensorBridge.DataPointer(input),
            TensorBridge.ToAslDataType(target.dtype), TensorBridge.DataPointer(target),
            input.numel(), options,
            gradient is null ? 0 : TensorBridge.DataPointer(gradient),
            elementLoss is null ? 0 : TensorBridge.DataPointer(elementLoss),
            TensorBridge.DataPointer(lossOutput),
            statisticsOutput is null ? 0 : TensorBridge.DataPointer(statisticsOutput), Classes(input));
        if (statistics is not null)
        {
            var sums = statisticsOutput!.cpu().data<double>().ToArray();   // waits for the kernel
            statistics.Set(new AslStatistics(sums[0], sums[1], sums[2], sums[3]), lossOutput.cpu().item<float>());
        }
        return elementLoss ?? lossOutput.reshape([]).to_type(input.dtype);
    }
}
