using AslCuda.TorchSharp;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Bench;

/// <summary>
/// Multi-label ASL forward+backward in each logit dtype (float32 targets), fused vs composed, same process and
/// inputs; 128x80 only, since the composed formula in half precision on the CPU is slow at large sizes.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class MultiLabelDataTypeBenchmarks
{
    private Tensor _x = null!, _y = null!;

    [Params(ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16)]
    public ScalarType DataType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (xs, ys) = CorePassTimings.Inputs<float, float>(128 * 80, seed: 1);
        _x = torch.tensor(xs, 128, 80).to_type(DataType);
        _y = torch.tensor(ys, 128, 80);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _y.Dispose();
    }

    [Benchmark]
    public double Fused() => ForwardBackward(AslBackend.Fused);

    [Benchmark(Baseline = true)]
    public double Composed() => ForwardBackward(AslBackend.Composed);

    private double ForwardBackward(AslBackend backend)
    {
        using var scope = torch.NewDisposeScope();
        var leaf = _x.detach().requires_grad_(true);
        var loss = AslFunctional.asymmetric_loss(leaf, _y, backend: backend);
        loss.backward();
        return loss.to_type(ScalarType.Float64).item<double>();
    }
}
