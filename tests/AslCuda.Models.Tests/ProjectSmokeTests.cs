namespace AslCuda.Models.Tests;

// Placeholder removed once the first real test lands.
public class ProjectSmokeTests
{
    [Test]
    public void TorchLoads() => Assert.That(global::TorchSharp.torch.ones(2).sum().item<float>(), Is.EqualTo(2f));
}
