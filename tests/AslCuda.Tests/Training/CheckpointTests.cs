using AslCuda.TorchSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AslCuda.Tests.Training;

public class CheckpointTests
{
    private sealed record Progress(int Epoch, double GammaNeg, List<double> History);

    private string _directory = "";

    [SetUp]
    public void CreateDirectory() =>
        _directory = Directory.CreateTempSubdirectory("aslcuda-checkpoint-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static nn.Module<Tensor, Tensor> NewModel(long seed, int hidden = 8)
    {
        torch.manual_seed(seed);
        return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3));
    }

    private static Adam NewOptimizer(nn.Module model) => torch.optim.Adam(model.parameters(), lr: 0.01);

    private static void Step(nn.Module<Tensor, Tensor> model, Adam optimizer, long dataSeed)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator((ulong)dataSeed);
        var input = torch.randn([16, 4], generator: generator);
        var target = torch.randn([16, 3], generator: generator);
        optimizer.zero_grad();
        nn.functional.mse_loss(model.call(input), target).backward();
        optimizer.step();
    }

    private static float[] Flatten(nn.Module model) =>
        model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    private string SavedCheckpoint(out float[] parametersAfterNextStep)
    {
        var model = NewModel(seed: 1);
        var optimizer = NewOptimizer(model);
        for (int step = 0; step < 3; step++) Step(model, optimizer, dataSeed: step);
        string path = Path.Combine(_directory, "run.ckpt");
        Checkpoint.Save(path, model, optimizer, new Progress(3, 4.25, [10.5, 20.25]));
        Step(model, optimizer, dataSeed: 99);
        parametersAfterNextStep = Flatten(model);
        return path;
    }

    [Test]
    public void RoundTripRestoresModelOptimizerAndProgress()
    {
        string path = SavedCheckpoint(out float[] expectedAfterNextStep);

        var model = NewModel(seed: 2);
        var optimizer = NewOptimizer(model);
        var progress = Checkpoint.Load<Progress>(path, model, optimizer);
        Step(model, optimizer, dataSeed: 99);

        Assert.That(progress.Epoch, Is.EqualTo(3));
        Assert.That(progress.GammaNeg, Is.EqualTo(4.25));
        Assert.That(progress.History, Is.EqualTo(new[] { 10.5, 20.25 }));
        // Identical parameters after one more step need the restored Adam moments too, not just the weights.
        Assert.That(Flatten(model), Is.EqualTo(expectedAfterNextStep));
    }

    [Test]
    public void FlippedByteIsReportedAsCorruptAndLeavesTheModelUntouched()
    {
        string path = SavedCheckpoint(out _);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var model = NewModel(seed: 2);
        float[] before = Flatten(model);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load<Progress>(path, model, NewOptimizer(model)));

        Assert.That(error!.Message, Does.Contain("corrupt").And.Contain("checksum"));
        Assert.That(Flatten(model), Is.EqualTo(before));
    }

    [Test]
    public void TruncatedFileIsReportedAsCorrupt()
    {
        string path = SavedCheckpoint(out _);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);

        var model = NewModel(seed: 2);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load<Progress>(path, model, NewOptimizer(model)));

        Assert.That(error!.Message, Does.Contain("corrupt").And.Contain("truncated"));
    }

    [Test]
    public void OtherFileIsNotACheckpoint()
    {
        string path = Path.Combine(_directory, "notes.txt");
        File.WriteAllText(path, "these are not the weights you are looking for, not even close to it");

        var model = NewModel(seed: 2);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load<Progress>(path, model, NewOptimizer(model)));

        Assert.That(error!.Message, Does.Contain("not an AslCuda checkpoint"));
    }

    [Test]
    public void CheckpointOfAnotherArchitectureIsRejectedByName()
    {
        string path = SavedCheckpoint(out _);

        var wider = NewModel(seed: 2, hidden: 16);
        float[] before = Flatten(wider);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load<Progress>(path, wider, NewOptimizer(wider)));

        Assert.That(error!.Message, Does.Contain("does not match the model").And.Contain("0.weight"));
        Assert.That(Flatten(wider), Is.EqualTo(before));
    }

    [Test]
    public void MissingFileIsAClearError()
    {
        var model = NewModel(seed: 2);
        var error = Assert.Throws<CheckpointException>(
            () => Checkpoint.Load<Progress>(Path.Combine(_directory, "absent.ckpt"), model, NewOptimizer(model)));

        Assert.That(error!.Message, Does.Contain("cannot be opened"));
    }

    [Test]
    public void OptimizerOverOtherParametersIsRejectedAndNothingChanges()
    {
        // Defect: the model's weights were replaced before the optimizer's state failed to load.
        string path = SavedCheckpoint(out _);
        var model = NewModel(seed: 2);
        var firstLayerOnly = torch.optim.Adam(model.parameters().Take(2), lr: 0.01);
        float[] before = Flatten(model);
        var twin = NewModel(seed: 2);
        var twinOptimizer = torch.optim.Adam(twin.parameters().Take(2), lr: 0.01);

        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load<Progress>(path, model, firstLayerOnly));

        Assert.That(error!.Message, Does.Contain(path).And.Contain("left as they were"));
        Assert.That(Flatten(model), Is.EqualTo(before), "the model keeps its weights");
        // The optimizer keeps its state too: the next step is the step of an untouched twin.
        StepFirstLayer(model, firstLayerOnly);
        StepFirstLayer(twin, twinOptimizer);
        Assert.That(Flatten(model), Is.EqualTo(Flatten(twin)));
    }

    private static void StepFirstLayer(nn.Module<Tensor, Tensor> model, Adam optimizer)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(7);
        optimizer.zero_grad();
        nn.functional.mse_loss(model.call(torch.randn([16, 4], generator: generator)), torch.randn([16, 3], generator: generator)).backward();
        optimizer.step();
    }

    [Test]
    public void SaveToAFolderPathFailsAndLeavesNoTemporaryFile()
    {
        // Defect: the failed rename left ".<name>.<pid>.tmp" behind.
        var model = NewModel(seed: 1);
        string folder = Path.Combine(_directory, "a-folder");
        Directory.CreateDirectory(folder);
        Assert.That(() => Checkpoint.Save(folder, model, NewOptimizer(model), new Progress(0, 4, [])), Throws.InstanceOf<IOException>());
        Assert.That(Directory.GetFileSystemEntries(_directory), Is.EqualTo(new[] { folder }));
    }
}
