namespace AslCuda.TorchSharp;

/// <summary>Which implementation computes the loss.</summary>
public enum AslBackend
{
    /// <summary>The fused backend (the fastest there is for the tensor's device).</summary>
    Auto,
    /// <summary>One fused pass computes loss and gradient: SIMD C# on CPU tensors, a CUDA kernel on CUDA tensors.</summary>
    Fused,
    /// <summary>The paper code's formula written with TorchSharp ops; libtorch does the autograd.</summary>
    Composed,
}
