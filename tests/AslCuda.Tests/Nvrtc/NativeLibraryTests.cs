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

    private static NvrtcCandidate Candidate(string version) => new($"libnvrtc-{version}.so", Version.Parse(version));

    private static NvrtcChoice Choose(string? driver, params string[] nvrtcVersions) =>
        NvrtcSelection.Choose(driver is null ? null : Version.Parse(driver), nvrtcVersions.Select(Candidate).ToArray());

    [Test]
    public void Driver_12_4_takes_the_newest_nvrtc_not_newer_than_itself()
    {
        var choice = Choose("12.4", "12.8", "12.4", "11.8");
        Assert.That(choice.Chosen!.Version, Is.EqualTo(new Version(12, 4)));
        Assert.That(choice.PtxLoadable, Is.True);
        Assert.That(choice.Reason, Does.Contain("libnvrtc-12.4.so").And.Contain("CUDA 12.4 driver"));
    }

    [Test]
    public void Driver_12_4_with_only_nvrtc_12_8_gets_cubin_only_through_minor_version_compatibility()
    {
        var choice = Choose("12.4", "12.8");
        Assert.That(choice.Chosen!.Version, Is.EqualTo(new Version(12, 8)));
        Assert.That(choice.PtxLoadable, Is.False);
        Assert.That(choice.Reason, Does.Contain("CUBIN but not its PTX"));
    }

    [Test]
    public void Driver_13_0_takes_nvrtc_13_0_over_12_8()
    {
        var choice = Choose("13.0", "12.8", "13.0");
        Assert.That(choice.Chosen!.Version, Is.EqualTo(new Version(13, 0)));
        Assert.That(choice.PtxLoadable, Is.True);
    }

    [Test]
    public void Driver_12_8_prefers_a_fully_compatible_12_x_over_a_newer_major()
    {
        var choice = Choose("12.8", "13.0", "12.6");
        Assert.That(choice.Chosen!.Version, Is.EqualTo(new Version(12, 6)));
        Assert.That(choice.PtxLoadable, Is.True);
    }

    [Test]
    public void Driver_11_8_with_only_nvrtc_12_x_fails_naming_both_versions_and_the_fix()
    {
        var choice = Choose("11.8", "12.8", "12.4");
        Assert.That(choice.Chosen, Is.Null);
        Assert.That(choice.Reason, Does.Contain("CUDA 11.8").And.Contain("12.4").And.Contain("12.8")
            .And.Contain("update the NVIDIA driver").And.Contain("nvidia-cuda-nvrtc-cu11").And.Contain("ASLCUDA_NVRTC_PATH"));
    }

    [Test]
    public void Nvrtc_older_than_11_1_has_no_cubin_so_a_newer_one_than_the_driver_does_not_fit()
    {
        Assert.That(Choose("11.0", "11.1").Chosen!.Version, Is.EqualTo(new Version(11, 1)), "11.1 emits CUBIN: minor version compatibility");
        Assert.That(Choose("10.2", "11.0").Chosen, Is.Null, "different major release");
    }

    [Test]
    public void Without_a_driver_the_newest_nvrtc_is_taken()
    {
        var choice = Choose(null, "11.8", "13.0", "12.8");
        Assert.That(choice.Chosen!.Version, Is.EqualTo(new Version(13, 0)));
        Assert.That(choice.PtxLoadable, Is.True);
        Assert.That(choice.Reason, Does.Contain("no CUDA driver"));
    }

    [Test]
    public void Nothing_found_is_no_choice()
    {
        Assert.That(Choose("12.4").Chosen, Is.Null);
        Assert.That(Choose(null).Chosen, Is.Null);
    }

    [TestCase(12040, 12, 4)]
    [TestCase(13000, 13, 0)]
    [TestCase(11080, 11, 8)]
    [TestCase(12090, 12, 9)]
    public void Driver_version_numbers_are_read_as_cuda_versions(int cuDriverGetVersion, int major, int minor) =>
        Assert.That(NvrtcSelection.DriverCudaVersion(cuDriverGetVersion), Is.EqualTo(new Version(major, minor)));

    [TestCase("libnvrtc.so.12", true)]
    [TestCase("libnvrtc.so", true)]
    [TestCase("libnvrtc-672ee683.so.12", true)]
    [TestCase("libnvrtc.so.11.8.89", true)]
    [TestCase("libnvrtc-builtins.so.12.8", false)]
    [TestCase("libnvrtc-builtins-4730a239.so.12.8", false)]
    [TestCase("libnvjitlink.so.12", false)]
    public void Nvrtc_file_names_with_hashes_are_recognized_and_builtins_are_not(string fileName, bool isNvrtc)
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Linux file names");
        Assert.That(NvrtcSelection.IsNvrtc(fileName), Is.EqualTo(isNvrtc));
    }

    [Test]
    public void Search_looks_beside_libtorch_in_pip_layouts_in_the_app_folder_then_the_system_names()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Linux layout");
        string root = Path.Combine(Path.GetTempPath(), "aslcuda-nvrtc-search-" + Guid.NewGuid().ToString("N"));
        try
        {
            string sitePackages = Path.Combine(root, "venv", "lib", "python3.12", "site-packages");
            string torchLib = Path.Combine(sitePackages, "torch", "lib");
            string app = Path.Combine(root, "app");
            string[] files =
            [
                Path.Combine(torchLib, "libtorch_cuda.so"),
                Path.Combine(torchLib, "libnvrtc-672ee683.so.12"),
                Path.Combine(torchLib, "libnvrtc-builtins-4730a239.so.12.8"),
                Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so.12"),
                Path.Combine(sitePackages, "nvidia", "cu13", "lib", "libnvrtc.so.13"),
                Path.Combine(app, "runtimes", "linux-x64", "native", "libnvrtc-0a1b2c3d.so.12"),
                Path.Combine(root, "cuda", "lib64", "libnvrtc.so.12.4.127"),
            ];
            foreach (string file in files)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                File.WriteAllBytes(file, []);
            }
            string alreadyLoaded = "/opt/other/libnvrtc.so.12";
            var env = Environment("CUDA_HOME", Path.Combine(root, "cuda"));

            var locations = NvrtcSelection.SearchLocations([files[0], alreadyLoaded, "/usr/lib/libc.so.6"], app, env, ["libnvrtc.so.12", "libnvrtc.so"]);

            Assert.That(locations, Is.EqualTo(new[]
            {
                alreadyLoaded, files[1], files[4], files[3], files[5], files[6], "libnvrtc.so.12", "libnvrtc.so",
            }));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>End to end with a real NVRTC (11.8 here): loaded, asked its version through the binding, and matched
    /// against drivers of other versions. The driver version is given, since no driver is installed here.</summary>
    [Test]
    public void A_real_nvrtc_is_loaded_asked_its_version_and_matched_to_drivers()
    {
        NvrtcRequirement.Require();
        var nvrtcVersion = AslCuda.Cuda.Nvrtc.Version;
        var locations = NativeLibraries.NvrtcSearchLocations();
        var newerDriver = new Version(nvrtcVersion.Major + 1, 0);
        var olderMajorDriver = new Version(nvrtcVersion.Major - 1, 2);

        var forNewer = NativeLibraries.SelectNvrtc(newerDriver, locations);
        var forOlderMajor = NativeLibraries.SelectNvrtc(olderMajorDriver, locations);

        Assert.That(forNewer.Handle, Is.Not.EqualTo((nint)0));
        Assert.That(forNewer.Choice.Chosen!.Version, Is.LessThanOrEqualTo(newerDriver));
        Assert.That(forNewer.Choice.PtxLoadable, Is.True);
        Assert.That(forOlderMajor.Handle, Is.EqualTo((nint)0));
        Assert.That(forOlderMajor.Choice.Reason, Does.Contain($"CUDA {olderMajorDriver}").And.Contain(nvrtcVersion.ToString()));
        if (nvrtcVersion.Minor > 1)
        {
            var sameMajorOlderDriver = new Version(nvrtcVersion.Major, 1);
            var forSameMajor = NativeLibraries.SelectNvrtc(sameMajorOlderDriver, locations);
            Assert.That(forSameMajor.Choice.Chosen, Is.Not.Null);
            Assert.That(forSameMajor.Choice.PtxLoadable, Is.EqualTo(forSameMajor.Choice.Chosen!.Version <= sameMajorOlderDriver));
        }
    }

    [Test]
    public void The_process_nvrtc_choice_says_which_library_and_why()
    {
        NvrtcRequirement.Require();
        var choice = NativeLibraries.NvrtcChoice;
        Assert.That(choice.Chosen, Is.Not.Null);
        Assert.That(choice.Chosen!.Version, Is.EqualTo(AslCuda.Cuda.Nvrtc.Version));
        Assert.That(choice.Reason, Does.Contain($"NVRTC {choice.Chosen.Version} from {choice.Chosen.Location}"));
        Assert.That(CudaDevice.Describe(), Does.Contain(choice.Reason));
    }

    [Test]
    public void Describe_never_throws_and_names_the_device_or_the_reason()
    {
        string text = CudaDevice.Describe();
        Assert.That(text, CudaDevice.IsAvailable ? Does.Contain("sm_") : Does.Contain("CUDA unavailable"));
    }
}
