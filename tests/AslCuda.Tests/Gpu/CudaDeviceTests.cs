using AslCuda.Cuda;
using AslCuda.Gpu;

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

    [Test]
    public void Describe_never_throws()
    {
        Assert.DoesNotThrow(() => _ = CudaDevice.Describe());
    }
}
