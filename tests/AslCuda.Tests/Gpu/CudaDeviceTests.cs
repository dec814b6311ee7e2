using AslCuda.Cuda;
using AslCuda.Gpu;
using AslCuda.Tests.Support;

namespace AslCuda.Tests.Gpu;

/// <summary>Failure handling of the device layer that needs no device.</summary>
[TestFixture]
public class CudaDeviceTests
{
    [Test]
    public void Once_keeps_a_value_but_not_a_failure()
    {
        int calls = 0;
        var once = new Once<string>(() => ++calls == 1 ? throw new InvalidOperationException("transient") : "made");
        Assert.Throws<InvalidOperationException>(() => _ = once.Value);
        Assert.That(once.Value, Is.EqualTo("made"));
        Assert.That(once.Value, Is.EqualTo("made"));
        Assert.That(calls, Is.EqualTo(2));
    }

    [Test]
    public void OnceCache_evicts_a_failed_entry_so_the_next_call_retries()
    {
        var cache = new System.Collections.Concurrent.ConcurrentDictionary<int, Lazy<string>>();
        int calls = 0;
        string Create(int key) => ++calls == 1 ? throw new OutOfMemoryException("transient") : $"value {key}";
        Assert.Throws<OutOfMemoryException>(() => OnceCache.Get(cache, 7, Create));
        Assert.That(OnceCache.Get(cache, 7, Create), Is.EqualTo("value 7"));
        Assert.That(OnceCache.Get(cache, 7, Create), Is.EqualTo("value 7"));
        Assert.That(calls, Is.EqualTo(2));
    }

    [Test]
    public void A_library_that_is_not_NVRTC_is_rejected_naming_the_variable_and_the_file()
    {
        string? Environment(string name) => name == NativeLibraries.Nvrtc.OverrideVariable ? "libc.so.6" : null;
        var result = NativeLibraries.Probe(NativeLibraries.Nvrtc, Environment);
        Assert.That(result.Handle, Is.EqualTo((nint)0));
        Assert.That(NativeLibraries.DescribeFailure(NativeLibraries.Nvrtc, result, Environment),
            Does.Contain("ASLCUDA_NVRTC_PATH=libc.so.6").And.Contains("does not export nvrtcVersion"));
    }

    /// <summary>The CUDA launcher checks the shape against AslCuda's extensions (as the CPU pass does) before it touches a
    /// device, so a bad call fails with the argument and the numbers whether or not a GPU is there.</summary>
    [Test]
    public void The_multi_label_launcher_checks_classes_against_the_extensions_before_touching_a_device()
    {
        void Launch(AslOptions options, long count, int classes) =>
            MultiLabelGpu.Launch(0, AslDataType.Float32, 1, AslDataType.Float32, 1, count, options, 0, 0, 1, 0, classes);
        Assert.Multiple(() =>
        {
            Assert.That(() => Launch(TestOptions.FullGradientBatchMean, 20, 0),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("classes").And.Message.Contains("batchmean").And.Message.Contains("C = 0"));
            Assert.That(() => Launch(new AslOptions(), 20, 7),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("classes").And.Message.Contains("classes = 7").And.Message.Contains("20"));
            Assert.That(() => Launch(new AslOptions(), 20, -1),
                Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("classes"));
            Assert.That(() => Launch(new AslOptions { ClassWeight = new[] { 1f, 2f, 3f } }, 20, 4),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("ClassWeight").And.Message.Contains("3 values").And.Message.Contains("4 classes"));
            Assert.That(() => Launch(new AslOptions { PosWeight = new[] { 1f, 2f } }, 20, 5),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("PosWeight").And.Message.Contains("2 values"));
        });
    }

    [Test]
    public void Describe_never_throws()
    {
        Assert.DoesNotThrow(() => _ = CudaDevice.Describe());
    }
}
