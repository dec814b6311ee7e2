using System.Diagnostics;
using AslCuda;
using AslCuda.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

// AslCuda demo: a random multi-label batch through AsymmetricLoss (the paper code's defaults, then timm's AsymmetricLossMultiLabel and AslCuda's extensions) and a
// random single-label batch through AsymmetricLossSingleLabel, forward and backward, on every backend this machine has; prints the loss, the agreement
// of the gradient with the float64 composed formula, and timing.
int repeats = args.Length > 0 && int.TryParse(args[0], out int r) ? r : 20;
var shapes = new (long N, long C)[] { (128, 80), (256, 9605) };
var devices = new List<Device> { torch.CPU };
if (torch.cuda.is_available()) devices.Add(torch.CUDA);

Console.WriteLine($"AslCuda demo: AsymmetricLoss(gammaNeg: 4, gammaPos: 1, clip: 0.05), float32, forward+backward, median of {repeats} runs");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, torch threads {torch.get_num_threads()}");
Console.WriteLine();
Console.WriteLine($"{"shape",-14} {"device",-6} {"backend",-9} {"loss",14} {"grad rel. err",14} {"median ms",10} {"vs composed",12}");
var random = new Random(2026);
LossFunction multiLabel = (x, y, backend) => AslFunctional.asymmetric_loss(x, y, backend: backend);
foreach (var device in devices)
foreach (var (n, c) in shapes)
{
    using var scope = torch.NewDisposeScope();
    var x = (torch.randn(n, c, generator: torch.manual_seed(random.Next())) * 4).to(device);
    var y = (torch.rand(n, c) < 0.05).to_type(ScalarType.Float32).to(device);
    Report($"{n}x{c}", x, y, multiLabel, device);
}

Console.WriteLine();
Console.WriteLine("timm's AsymmetricLossMultiLabel (full gradient, sum), then AslCuda's extensions: smoothing 0.1, pos_weight [C], weight [C], batchmean");
foreach (var device in devices)
{
    using var scope = torch.NewDisposeScope();
    const long n = 256, c = 9605;
    var x = (torch.randn(n, c, generator: torch.manual_seed(random.Next())) * 4).to(device);
    var y = (torch.rand(n, c) < 0.05).to_type(ScalarType.Float32).to(device);
    var weight = torch.rand(c, generator: torch.manual_seed(random.Next())) + 0.5;
    var posWeight = torch.rand(c, generator: torch.manual_seed(random.Next())) * 3 + 1;
    LossFunction timm = (input, target, backend) => AslFunctional.asymmetric_loss_multi_label(input, target, backend: backend);
    LossFunction extensions = (input, target, backend) => AslFunctional.asymmetric_loss_with_extensions(input, target,
        disableTorchGradFocalLoss: false, reduction: AslReduction.BatchMean, smoothing: 0.1, weight: weight, posWeight: posWeight, backend: backend);
    Report($"{n}x{c}", x, y, timm, device);
    Report($"{n}x{c} +all", x, y, extensions, device);
}

Console.WriteLine();
Console.WriteLine("AsymmetricLossSingleLabel(gammaPos: 0, gammaNeg: 4, eps: 0.1), mean over rows, float32, int64 class targets");
LossFunction singleLabel = (x, target, backend) => AslFunctional.asymmetric_loss_single_label(x, target, backend: backend);
foreach (var device in devices)
{
    using var scope = torch.NewDisposeScope();
    const long n = 256, c = 1000;
    var x = (torch.randn(n, c, generator: torch.manual_seed(random.Next())) * 4).to(device);
    var target = torch.randint(c, [n], generator: torch.manual_seed(random.Next())).to(device);
    Report($"{n}x{c}", x, target, singleLabel, device);
}
if (!torch.cuda.is_available())
    Console.WriteLine("\nNo CUDA device through TorchSharp here: the CUDA kernels are exercised by bench/gpu on a GPU machine.");

// One shape on one device: composed and fused rows, then the float64 reference loss.
void Report(string shape, Tensor x, Tensor y, LossFunction lossFunction, Device device)
{
    var (referenceLoss, referenceGradient) = Run(x.to_type(ScalarType.Float64), y, lossFunction, AslBackend.Composed);
    double composedMs = 0;
    foreach (var backend in new[] { AslBackend.Composed, AslBackend.Fused })
    {
        try
        {
            var (loss, gradient) = Run(x, y, lossFunction, backend);
            double error = RelativeError(gradient, referenceGradient);
            double ms = MedianMilliseconds(() => ForwardBackward(x, y, lossFunction, backend), repeats, device);
            if (backend == AslBackend.Composed) composedMs = ms;
            Console.WriteLine($"{shape,-14} {device.type,-6} {backend,-9} {loss,14:F4} {error,14:E2} {ms,10:F3} {composedMs / ms,11:F2}x");
        }
        catch (NotSupportedException e)                            // a backend not built for this device yet
        {
            Console.WriteLine($"{shape,-14} {device.type,-6} {backend,-9} {e.Message}");
        }
    }
    Console.WriteLine($"{"",-14} {"",-6} {"float64",-9} {referenceLoss,14:F4}   (composed formula in float64: the reference)");
}

static (double Loss, Tensor Gradient) Run(Tensor x, Tensor y, LossFunction lossFunction, AslBackend backend)
{
    var (loss, gradient) = ForwardBackward(x, y, lossFunction, backend);
    return (loss.to_type(ScalarType.Float64).item<double>(), gradient.to_type(ScalarType.Float64));
}

static (Tensor Loss, Tensor Gradient) ForwardBackward(Tensor x, Tensor y, LossFunction lossFunction, AslBackend backend)
{
    var leaf = x.detach().requires_grad_(true);
    var loss = lossFunction(leaf, y, backend);
    loss.backward();
    return (loss, leaf.grad!);
}

static double RelativeError(Tensor actual, Tensor expected) =>
    ((actual - expected).norm() / expected.norm()).item<double>();

static double MedianMilliseconds(Func<(Tensor, Tensor)> action, int repeats, Device device)
{
    // Warm-up: allocator, thread pool, and tiered JIT, which promotes the hot loops to optimized code only after
    // some hundred calls or a second; before that a fused pass runs up to twice as slow as it will in training.
    var warmUp = Stopwatch.StartNew();
    for (int i = 0; i < 3 || warmUp.Elapsed < TimeSpan.FromSeconds(1); i++)
        using (torch.NewDisposeScope()) action();
    var times = new double[repeats];
    for (int i = 0; i < repeats; i++)
    {
        using var scope = torch.NewDisposeScope();
        var watch = Stopwatch.StartNew();
        action();
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
        times[i] = watch.Elapsed.TotalMilliseconds;
    }
    Array.Sort(times);
    return times[repeats / 2];
}

/// <summary>A loss of the library in functional form: logits, targets, backend.</summary>
internal delegate Tensor LossFunction(Tensor input, Tensor target, AslBackend backend);
