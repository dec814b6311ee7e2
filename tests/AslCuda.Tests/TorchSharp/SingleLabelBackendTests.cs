using AslCuda.Gpu;
using AslCuda.TorchSharp;
using DeviceType = TorchSharp.DeviceType;

namespace AslCuda.Tests.TorchSharp;

/// <summary>Which backend a single-label call runs on (no CUDA tensors here: the choice is a pure function).</summary>
[TestFixture]
public class SingleLabelBackendTests
{
    [Test]
    public void Auto_on_CUDA_beyond_the_kernels_class_limit_falls_back_to_composed()
    {
        Assert.That(SingleLabelLoss.Resolve(AslBackend.Auto, DeviceType.CUDA, SingleLabelLayout.MaxClasses + 1), Is.EqualTo(AslBackend.Composed));
        Assert.That(SingleLabelLoss.Resolve(AslBackend.Auto, DeviceType.CUDA, SingleLabelLayout.MaxClasses), Is.EqualTo(AslBackend.Auto));
        Assert.That(SingleLabelLoss.Resolve(AslBackend.Auto, DeviceType.CPU, SingleLabelLayout.MaxClasses + 1), Is.EqualTo(AslBackend.Auto));
        // An explicit Fused request is honoured (and refused by the launcher with the limit in the message).
        Assert.That(SingleLabelLoss.Resolve(AslBackend.Fused, DeviceType.CUDA, SingleLabelLayout.MaxClasses + 1), Is.EqualTo(AslBackend.Fused));
    }
}
