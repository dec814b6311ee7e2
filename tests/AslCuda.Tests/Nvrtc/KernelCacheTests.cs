using AslCuda.Gpu;

namespace AslCuda.Tests.Nvrtc;

[TestFixture]
public class KernelCacheTests
{
    private static readonly KernelTarget Sm90 = new("sm_90", Cubin: true);
    private static readonly IReadOnlyList<string> Defines =
        MultiLabelVariant.For(AslDataType.Float32, AslDataType.UInt8, new AslOptions(), gradient: true, statistics: false).Defines;

    private string _directory = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "aslcuda-cache-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory() => System.IO.Directory.Delete(_directory, recursive: true);

    [Test]
    public void A_variant_is_compiled_once_per_process_even_when_asked_concurrently()
    {
        NvrtcRequirement.Require();
        var cache = new KernelCache(_directory);
        var images = new CompiledKernel[8];
        Parallel.For(0, images.Length, i => images[i] = cache.Get(MultiLabelVariant.Program, Defines, Sm90));
        Assert.That(cache.CompilationCount, Is.EqualTo(1));
        Assert.That(images, Has.All.SameAs(images[0]));
    }

    [Test]
    public void A_second_process_reads_the_disk_cache_instead_of_compiling()
    {
        NvrtcRequirement.Require();
        var first = new KernelCache(_directory).Get(MultiLabelVariant.Program, Defines, Sm90);
        var reader = new KernelCache(_directory);
        var second = reader.Get(MultiLabelVariant.Program, Defines, Sm90);
        Assert.That(reader.CompilationCount, Is.Zero);
        Assert.That(second.Image, Is.EqualTo(first.Image));
    }

    [TestCase("garbage")]
    [TestCase("truncated")]
    [TestCase("flipped-byte")]
    [TestCase("empty")]
    public void A_corrupt_cache_file_is_recompiled_and_replaced(string damage)
    {
        NvrtcRequirement.Require();
        var original = new KernelCache(_directory).Get(MultiLabelVariant.Program, Defines, Sm90);
        string file = System.IO.Directory.GetFiles(_directory).Single();
        byte[] bytes = File.ReadAllBytes(file);
        switch (damage)
        {
            case "garbage": File.WriteAllText(file, "not a kernel"); break;
            case "truncated": File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]); break;
            case "flipped-byte": bytes[^10] ^= 0x40; File.WriteAllBytes(file, bytes); break;
            default: File.WriteAllBytes(file, []); break;
        }

        var cache = new KernelCache(_directory);
        var recompiled = cache.Get(MultiLabelVariant.Program, Defines, Sm90);

        Assert.That(cache.CompilationCount, Is.EqualTo(1));
        Assert.That(recompiled.Image, Is.EqualTo(original.Image));
        Assert.That(KernelCache.TryRead(file), Is.EqualTo(original.Image), "the damaged file was replaced");
        Assert.That(System.IO.Directory.GetFiles(_directory), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void An_unwritable_cache_folder_costs_only_a_compile(bool belowAFile)
    {
        // Defect: the write failure handler deleted its temporary in a folder that did not exist, and that
        // DirectoryNotFoundException failed every launch. (A file where the folder should be is unwritable even for root.)
        NvrtcRequirement.Require();
        string file = Path.Combine(_directory, "a-file");
        File.WriteAllText(file, "");
        string folder = belowAFile ? Path.Combine(file, "cache") : file;
        var reference = new KernelCache(null).Get(MultiLabelVariant.Program, Defines, Sm90);

        var cache = new KernelCache(folder);
        Assert.That(cache.Get(MultiLabelVariant.Program, Defines, Sm90).Image, Is.EqualTo(reference.Image));
        var nextProcess = new KernelCache(folder);
        Assert.That(nextProcess.Get(MultiLabelVariant.Program, Defines, Sm90).Image, Is.EqualTo(reference.Image));
        Assert.That(nextProcess.CompilationCount, Is.EqualTo(1), "nothing could be cached, so the next process compiles again");
        Assert.That(System.IO.Directory.GetFiles(_directory), Is.EqualTo(new[] { file }), "no temporary file left behind");
    }

    [Test]
    public void Different_defines_or_targets_are_different_entries()
    {
        NvrtcRequirement.Require();
        var cache = new KernelCache(_directory);
        cache.Get(MultiLabelVariant.Program, Defines, Sm90);
        cache.Get(MultiLabelVariant.Program, Defines, new KernelTarget("sm_80", Cubin: true));
        cache.Get(MultiLabelVariant.Program, Defines, new KernelTarget("compute_90", Cubin: false));
        var forward = MultiLabelVariant.For(AslDataType.Float32, AslDataType.UInt8, new AslOptions(), gradient: false, statistics: false);
        cache.Get(MultiLabelVariant.Program, forward.Defines, Sm90);
        Assert.That(cache.CompilationCount, Is.EqualTo(4));
        Assert.That(System.IO.Directory.GetFiles(_directory), Has.Length.EqualTo(4));
    }

    [Test]
    public void Ptx_target_gives_ptx_text()
    {
        NvrtcRequirement.Require();
        var kernel = new KernelCache(null).Get(MultiLabelVariant.Program, Defines, new KernelTarget("compute_80", Cubin: false));
        Assert.That(System.Text.Encoding.ASCII.GetString(kernel.Image), Does.Contain(".target sm_80"));
        Assert.That(kernel.Image[^1], Is.Zero, "the driver needs zero-terminated PTX");
    }

    [Test]
    public void Target_is_the_devices_own_architecture_when_nvrtc_knows_it() =>
        Assert.That(KernelTarget.For(90, [75, 80, 86, 89, 90]), Is.EqualTo(new KernelTarget("sm_90", Cubin: true)));

    [Test]
    public void Target_is_ptx_of_the_newest_older_architecture_for_a_device_newer_than_nvrtc() =>
        Assert.That(KernelTarget.For(100, [75, 80, 86, 89, 90]), Is.EqualTo(new KernelTarget("compute_90", Cubin: false)));

    [Test]
    public void Target_for_a_device_older_than_nvrtc_supports_is_an_error()
    {
        var e = Assert.Throws<NotSupportedException>(() => KernelTarget.For(61, [75, 80, 90]));
        Assert.That(e!.Message, Does.Contain("sm_61").And.Contain("sm_75"));
    }

    [Test]
    public void Default_folder_comes_from_the_environment_variable()
    {
        string? saved = Environment.GetEnvironmentVariable("ASLCUDA_KERNEL_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("ASLCUDA_KERNEL_CACHE", _directory);
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo(_directory));
            Environment.SetEnvironmentVariable("ASLCUDA_KERNEL_CACHE", null);
            Assert.That(KernelCache.DefaultDirectory(), Does.EndWith("aslcuda"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASLCUDA_KERNEL_CACHE", saved);
        }
    }
}
