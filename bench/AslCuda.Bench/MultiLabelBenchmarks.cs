using AslCuda.Cpu;
using AslCuda.TorchSharp;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Bench;

/// <summary>Multi-label ASL forward+backward: fused CPU pass vs the composed paper formula, same process and inputs.</summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class MultiLabelBenchmarks
{
    private Tensor _x = null!, _y = null!;
    private float[] _xs = null!, _ys = null!, _gradient = null!;

    [Params("128x80", "256x9605")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(long.Parse).ToArray();
        var random = new Random(1);
        _xs = Enumerable.Range(0, (int)(dims[0] * dims[1])).Select(_ => (float)(random.NextDouble() * 16 - 8)).ToArray();
        _ys = _xs.Select(_ => random.NextDouble() < 0.05 ? 1f : 0f).ToArray();
        _gradient = new float[_xs.Length];
        _x = torch.tensor(_xs, dims);
        _y = torch.tensor(_ys, dims);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _y.Dispose();
    }

    /// <summary>The core pass alone on arrays: loss and gradient, no TorchSharp.</summary>
    [Benchmark]
    public double CorePass() => MultiLabelCpu.Compute<float, float>(_xs, _ys, new AslOptions(), _gradient);

    [Benchmark]
    public float Fused() => ForwardBackward(AslBackend.Fused);

    [Benchmark(Baseline = true)]
    public float Composed() => ForwardBackward(AslBackend.Composed);

    private float ForwardBackward(AslBackend backend)
    {
        using var scope = torch.NewDisposeScope();
        var leaf = _x.detach().requires_grad_(true);
        var loss = AslFunctional.asymmetric_loss(leaf, _y, backend: backend);
        loss.backward();
        return loss.item<float>();
    }
}
