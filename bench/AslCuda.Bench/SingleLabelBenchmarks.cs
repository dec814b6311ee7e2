using AslCuda.Cpu;
using AslCuda.TorchSharp;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Bench;

/// <summary>Single-label ASL forward+backward: fused CPU pass vs the composed paper formula, same process and inputs.</summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class SingleLabelBenchmarks
{
    private Tensor _x = null!, _target = null!;
    private float[] _xs = null!, _gradient = null!;
    private long[] _targets = null!;
    private int _classes;

    [Params("256x1000")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(long.Parse).ToArray();
        _classes = (int)dims[1];
        var random = new Random(1);
        _xs = Enumerable.Range(0, (int)(dims[0] * dims[1])).Select(_ => (float)(random.NextDouble() * 16 - 8)).ToArray();
        _targets = Enumerable.Range(0, (int)dims[0]).Select(_ => (long)random.Next(_classes)).ToArray();
        _gradient = new float[_xs.Length];
        _x = torch.tensor(_xs, dims);
        _target = torch.tensor(_targets);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _target.Dispose();
    }

    /// <summary>The core pass alone on arrays: loss and gradient, no TorchSharp.</summary>
    [Benchmark]
    public double CorePass() => SingleLabelCpu.Compute<float, long>(_xs, _targets, _classes, new SingleLabelOptions(), _gradient);

    [Benchmark]
    public float Fused() => ForwardBackward(AslBackend.Fused);

    [Benchmark(Baseline = true)]
    public float Composed() => ForwardBackward(AslBackend.Composed);

    private float ForwardBackward(AslBackend backend)
    {
        using var scope = torch.NewDisposeScope();
        var leaf = _x.detach().requires_grad_(true);
        var loss = AslFunctional.asymmetric_loss_single_label(leaf, _target, backend: backend);
        loss.backward();
        return loss.item<float>();
    }
}
