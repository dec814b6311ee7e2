using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp;

/// <summary>Raw data pointers, element types and the input checks shared by every loss.</summary>
internal static partial class TensorBridge
{
    [LibraryImport("LibTorchSharp")]
    private static partial nint THSTensor_data(nint tensor);

    /// <summary>Address of the first element (a device pointer for CUDA tensors); the tensor must be contiguous.</summary>
    public static nint DataPointer(Tensor tensor)
    {
        if (!tensor.is_contiguous())
            throw new ArgumentException("internal: tensor must be contiguous before its data pointer is taken.");
        if (tensor.numel() == 0) return 0;
        nint data = THSTensor_data(tensor.Handle);
        torch.CheckForErrors();
        return data != 0 ? data : throw new InvalidOperationException("libtorch returned no data pointer for a non-empty tensor.");
    }

    public static AslDataType ToAslDataType(ScalarType type) => type switch
    {
        ScalarType.Float32 => AslDataType.Float32,
        ScalarType.Float64 => AslDataType.Float64,
        ScalarType.Float16 => AslDataType.Float16,
        ScalarType.BFloat16 => AslDataType.BFloat16,
        ScalarType.Byte or ScalarType.Bool => AslDataType.UInt8,
        _ => throw new ArgumentException($"unsupported element type {type}."),
    };

    public static AslIndexType ToAslIndexType(ScalarType type) => type switch
    {
        ScalarType.Int64 => AslIndexType.Int64,
        ScalarType.Int32 => AslIndexType.Int32,
        _ => throw new ArgumentException($"target must be int64 or int32 class indices, got {type}.", "target"),
    };

    public static AslReduction ToAslReduction(nn.Reduction reduction) => reduction switch
    {
        nn.Reduction.None => AslReduction.None,
        nn.Reduction.Mean => AslReduction.Mean,
        nn.Reduction.Sum => AslReduction.Sum,
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "unknown reduction."),
    };

    public static bool IsFloatingPoint(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;

    public static void CheckFloatingInput(Tensor input)
    {
        if (!IsFloatingPoint(input.dtype))
            throw new ArgumentException($"input must be float32, float64, float16 or bfloat16 logits, got {input.dtype}.", nameof(input));
    }

    public static void CheckSameDevice(Tensor input, Tensor target)
    {
        if (input.device.type != target.device.type || input.device.index != target.device.index)
            throw new ArgumentException($"input is on {input.device} but target is on {target.device}; move both to one device.", nameof(target));
    }

    public static void CheckSameShape(Tensor input, Tensor target)
    {
        if (!input.shape.SequenceEqual(target.shape))
            throw new ArgumentException($"input has shape {Format(input.shape)} but target has shape {Format(target.shape)}; they must match.", nameof(target));
    }

    public static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Whether the caller needs d loss / d input (or d loss / d target) from this call.</summary>
    public static bool NeedsGradient(Tensor input, Tensor? target = null) =>
        (input.requires_grad || target?.requires_grad == true) && torch.is_grad_enabled();

    /// <summary>
    /// A disposed tensor would fail deep inside libtorch with "empty handle", and a sparse one with "unsupported
    /// memory format option", neither naming the argument.
    /// </summary>
    public static void CheckUsable(Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.IsInvalid)
            throw new ArgumentException($"{name} is a disposed tensor (its native handle was released); pass a live tensor.", name);
        if (tensor.is_sparse)
            throw new ArgumentException($"{name} is a sparse tensor (shape {Format(tensor.shape)}); the losses take dense tensors: call to_dense() first.", name);
    }

    /// <summary>
    /// TorchSharp keeps a custom function's saved tensors until its node is collected, so a second backward
    /// through a fused loss would silently add the gradient again. Multiplying the output by a constant 1 puts a
    /// native node in front whose saved scalar libtorch frees after a backward without retain_graph, so a second
    /// one fails there, with PyTorch's own "Trying to backward through the graph a second time" error, before
    /// anything is accumulated. The multiply is one scalar op for sum and mean (one pass for reduction none); the
    /// value is unchanged (x * 1 == x, NaN included).
    /// </summary>
    public static Tensor GuardAgainstSecondBackward(Tensor output)
    {
        var one = Ones.GetOrAdd((output.dtype, output.device.type, output.device.index), key =>
            torch.ones([], key.Item1, new Device(key.Item2, key.Item3)).DetachFromDisposeScope());
        return output.mul(one);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(ScalarType, DeviceType, int), Tensor> Ones = new();
}
