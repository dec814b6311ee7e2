using AslCuda.Cuda;
using AslCuda.Gpu;

namespace AslCuda.Tests.Nvrtc;

/// <summary>Probing of libcuda and NVRTC: override variables, and what a user reads when a library is missing.</summary>
[TestFixture]
public class NativeLibraryTests
{
    private static Func<string, string?> Environment(string variable, string? value) => name => name == variable ? value : null;

    [Test]
    public void Nvrtc_override_path_is_used_alone()
    {
        NvrtcRequirement.Require();
        string missing = Path.Combine(Path.GetTempPath(), "no-such-dir", "libnvrtc.so.99");
        var env = Environment(NativeLibraries.Nvrtc.OverrideVariable, missing);

        var result = NativeLibraries.Probe(NativeLibraries.Nvrtc, env);

        // NVRTC is installed (Require passed), so a fallback to the usual names would have loaded it.
        Assert.That(result.Handle, Is.EqualTo((nint)0));
        Assert.That(result.Attempts, Has.Count.EqualTo(1).And.Some.StartsWith(missing));
        Assert.That(NativeLibraries.DescribeFailure(NativeLibraries.Nvrtc, result, env),
            Does.Contain("ASLCUDA_NVRTC_PATH=" + missing).And.Contain("nvidia-cuda-nvrtc"));
    }

    [Test]
    public void Nvrtc_override_path_loads_that_file()
    {
        NvrtcRequirement.Require();
        if (!OperatingSystem.IsLinux()) Assert.Ignore("finds the loaded file through /proc/self/maps");
        string loaded = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && Path.GetFileName(f[5]).StartsWith("libnvrtc.so", StringComparison.Ordinal))
            .Select(f => f[5]).First();

        var result = NativeLibraries.Probe(NativeLibraries.Nvrtc, Environment(NativeLibraries.Nvrtc.OverrideVariable, loaded));

        Assert.That(result.Handle, Is.Not.EqualTo((nint)0));
        Assert.That(result.LoadedFrom, Is.EqualTo(loaded));
    }

    [Test]
    public void Missing_driver_is_reported_with_every_name_tried_and_how_to_install()
    {
        var absent = NativeLibraries.Driver with { LinuxNames = ["libcuda-absent.so.1", "libcuda-absent.so"], WindowsNames = ["nvcuda-absent.dll"] };
        var env = Environment("unused", null);

        var result = NativeLibraries.Probe(absent, env);
        string message = NativeLibraries.DescribeFailure(absent, result, env);

        Assert.That(result.Handle, Is.EqualTo((nint)0));
        Assert.That(result.Attempts, Has.Count.EqualTo(absent.Candidates.Count));
        foreach (string name in absent.Candidates) Assert.That(message, Does.Contain(name));
        Assert.That(message, Does.Contain("ASLCUDA_CUDA_DRIVER_PATH is not set").And.Contain("NVIDIA display driver"));
    }

    [Test]
    public void Driver_override_path_is_used_alone()
    {
        var env = Environment(NativeLibraries.Driver.OverrideVariable, "/nonexistent/libcuda.so.1");
        var result = NativeLibraries.Probe(NativeLibraries.Driver, env);
        Assert.That(result.Handle, Is.EqualTo((nint)0));
        Assert.That(result.Attempts.Single(), Does.StartWith("/nonexistent/libcuda.so.1"));
    }

    [Test]
    public void Without_a_driver_the_launcher_throws_a_clear_exception_and_IsAvailable_is_false()
    {
        if (NativeLibraries.Probe(NativeLibraries.Driver, System.Environment.GetEnvironmentVariable).Handle != 0)
            Assert.Ignore("libcuda is installed here; this test is for machines without it");

        Assert.That(CudaDevice.IsAvailable, Is.False);
        Assert.That(CudaDevice.Describe(), Does.Contain("CUDA unavailable").And.Contain("libcuda.so.1"));
        var e = Assert.Throws<CudaLibraryNotFoundException>(() => MultiLabelGpu.Launch(0, AslDataType.Float32, 16, AslDataType.UInt8, 16, 1,
            new AslOptions(), 0, 0, 16, 0));
        Assert.That(e!.Message, Does.Contain("libcuda.so.1").And.Contain("ASLCUDA_CUDA_DRIVER_PATH"));
    }

    [Test]
    public void Describe_never_throws_and_names_the_device_or_the_reason()
    {
        string text = CudaDevice.Describe();
        Assert.That(text, CudaDevice.IsAvailable ? Does.Contain("sm_") : Does.Contain("CUDA unavailable"));
    }
}
