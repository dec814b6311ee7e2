using AslCuda.TorchSharp.Autograd;
using AslCuda.TorchSharp.Composed;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp;

/// <summary>Checks a multi-label call once and runs it on the chosen backend.</summary>
internal static class MultiLabelLoss
{
    /// <summary>Options from the paper code's parameter names (shared by the module and the functional form).</summary>
    public static AslOptions Options(double gammaNeg, double gammaPos, double clip, double eps,
        bool disableTorchGradFocalLoss, nn.Reduction reduction) => new()
    {
        GammaNeg = gammaNeg, GammaPos = gammaPos, Clip = clip, Eps = eps,
        DetachFocalWeight = disableTorchGradFocalLoss, Reduction = TensorBridge.ToAslReduction(reduction),
    };

    /// <summary>Options from the paper code's parameter names and AslCuda's extensions (docs/extensions.md).</summary>
    public static AslOptions ExtendedOptions(double gammaNeg, double gammaPos, double clip, double eps, bool disableTorchGradFocalLoss,
        AslReduction reduction, double smoothing, Tensor? weight, Tensor? posWeight) => new()
    {
        GammaNeg = gammaNeg, GammaPos = gammaPos, Clip = clip, Eps = eps, DetachFocalWeight = disableTorchGradFocalLoss,
        Smoothing = smoothing, Reduction = reduction,
        ClassWeight = weight is null ? default : ClassFactors(weight, nameof(weight), allowScalar: false),
        PosWeight = posWeight is null ? default : ClassFactors(posWeight, nameof(posWeight), allowScalar: true),
    };

    /// <summary>
    /// The values of a [C] factor tensor (or a one-value one where <paramref name="allowScalar"/>), copied to the
    /// host once: the backends read them from the options on whatever device the input is.
    /// </summary>
    private static float[] ClassFactors(Tensor factors, string name, bool allowScalar)
    {
        TensorBridge.CheckUsable(factors, name);
        // The values are read once, here: a CPU or CUDA tensor serves an input on any device, a meta one has none.
        if (factors.device.type is not (DeviceType.CPU or DeviceType.CUDA))
            throw new ArgumentException($"{name} is on {factors.device}, which holds no values to read; pass a CPU or CUDA tensor.", name);
        if (!TensorBridge.IsFloatingPoint(factors.dtype))
            throw new ArgumentException($"{name} must be a floating point tensor, got {factors.dtype}.", name);
        bool shapeFits = factors.dim() == 1 || (allowScalar && factors.dim() == 0);
        if (!shapeFits)
            throw new ArgumentException(
                $"{name} must be a [C] vector{(allowScalar ? " or a single value" : "")}, got shape [{string.Join(", ", factors.shape)}].", name);
        using var values = factors.detach().cpu().to_type(ScalarType.Float32).contiguous();
        var copy = values.data<float>().ToArray();
        int bad = Array.FindIndex(copy, v => !float.IsFinite(v) || v < 0);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(name, copy[bad], $"{name}[{bad}] is {copy[bad]}: every value must be finite and >= 0.");
        return copy;
    }

    public static Tensor Compute(Tensor input, Tensor target, AslOptions options, AslBackend backend, StatisticsBox? statistics)
    {
        ArgumentNullException.ThrowIfNull(options);
        TensorBridge.CheckUsable(input, nameof(input));
        TensorBridge.CheckUsable(target, nameof(target));
        TensorBridge.CheckFloatingInput(input);
        if (!TensorBridge.IsFloatingPoint(target.dtype) && target.dtype is not (ScalarType.Byte or ScalarType.Bool))
            throw new ArgumentException(
                $"target must be a floating point tensor (soft or binary labels) or uint8/bool (binary labels), got {target.dtype}.", nameof(target));
        TensorBridge.CheckSameDevice(input, target);
        TensorBridge.CheckSameShape(input, target);
        if (options.HasClassFactors || options.Reduction == AslReduction.BatchMean)
        {
            if (input.dim() != 2)
                throw new ArgumentException(
                    $"batchmean and per-class weights need an [N, C] input (rows of classes), got shape [{string.Join(", ", input.shape)}].", nameof(input));
            options.CheckShape(input.NumberOfElements, (int)input.shape[^1]);
        }

        switch (backend)
        {
            case AslBackend.Composed:
                if (statistics is not null)
                {
                    var sums = MultiLabelComposed.Statistics(input, target);
                    statistics.Set(sums, loss: sums.SumPPositive + sums.SumPNegative);   // NaN exactly where a logit is NaN
                }
                return MultiLabelComposed.Loss(input, target, options);
            case AslBackend.Auto or AslBackend.Fused:
                return Fused(input, target, options, statistics);
            default:
                throw new ArgumentOutOfRangeException(nameof(backend), backend, "unknown backend.");
        }
    }

    private static Tensor Fused(Tensor input, Tensor target, AslOptions options, StatisticsBox? statistics)
    {
        using var scope = torch.NewDisposeScope();
        var x = input.contiguous();
        // The fused pass reads float32 (soft) or one byte per element (binary) targets.
        var y = target.dtype is ScalarType.Float32 or ScalarType.Byte or ScalarType.Bool
            ? target.contiguous()
            : target.to_type(ScalarType.Float32).contiguous();
        Tensor loss;
        if (TensorBridge.NeedsGradient(input, target))
            loss = TensorBridge.GuardAgainstSecondBackward(MultiLabelFunction.apply(x, y, options, statistics!));
        else
            using (torch.no_grad())
                loss = MultiLabelDispatch.Run(x, y, options, gradient: null, statistics);
        return loss.MoveToOuterDisposeScope();
    }
}
