using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AslCuda.Cuda;
using AslCuda.Gpu;

namespace AslCuda.Tests.Gpu;

/// <summary>
/// The emulated device itself (tests/EmulatedDevice): its float16 codec against .NET's, its built-ins, and that
/// it catches what a GPU would do wrong or hang on (a barrier or shuffle not every thread reaches, a lane outside
/// the mask, a pointer outside any allocation, a write past the end) with an error that names kernel, variant
/// and block, without hanging or ending the test process. Also the launchers' failure handling that needs a
/// device (a failed module load is retried, ASLCUDA_SYNC). Ignored unless device 0 is the emulated device.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category(GpuDeviceCategory.Name)]
public unsafe class EmulatedDeviceTests
{
    private nint _fake;

    [OneTimeSetUp]
    public void RequireEmulatedDevice()
    {
        if (!GpuCheckDevice.IsEmulated) Assert.Ignore("device 0 is not the emulated device (tests/EmulatedDevice): " + CudaDevice.Describe());
        _fake = NativeLibrary.Load(Environment.GetEnvironmentVariable(NativeLibraries.Driver.OverrideVariable)!);
    }

    private T Control<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(_fake, name));

    private delegate float HalfToFloat(ushort half);
    private delegate ushort FloatToHalf(float value);
    private delegate void FailNext([MarshalAs(UnmanagedType.LPUTF8Str)] string call, int error, int count);
    private delegate int Record([MarshalAs(UnmanagedType.LPUTF8Str)] string? directory);

    [Test]
    public void Reports_an_emulated_H200_by_default()
    {
        var device = GpuDevice.Get(0);
        Assert.That(device.Name, Does.StartWith(GpuCheckDevice.EmulatedNamePrefix).And.Contains("H200"));
        Assert.That(device.ComputeCapability, Is.EqualTo(90));
        Assert.That(device.MultiprocessorCount, Is.EqualTo(132));
        Assert.That(device.TotalMemoryBytes, Is.EqualTo(141L << 30));
        Assert.That(CudaDevice.Describe(), Does.Contain("sm_90, 132 SMs"));
    }

    [Test]
    public void Half_codec_matches_dotnet_for_every_half()
    {
        var toFloat = Control<HalfToFloat>("aslcuda_fake_half_to_float");
        for (int bits = 0; bits < 65536; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            float actual = toFloat((ushort)bits);
            if (float.IsNaN(expected)) Assert.That(float.IsNaN(actual), $"half 0x{bits:X4} is NaN, emulator gives {actual}");
            else if (BitConverter.SingleToUInt32Bits(actual) != BitConverter.SingleToUInt32Bits(expected))
                Assert.Fail($"half 0x{bits:X4}: emulator {actual:R}, .NET {expected:R}");
        }
    }

    [Test]
    public void Float_to_half_rounds_to_nearest_even_like_dotnet()
    {
        var toHalf = Control<FloatToHalf>("aslcuda_fake_float_to_half");
        int checkedValues = 0;
        void Check(float value)
        {
            checkedValues++;
            Half expected = (Half)value;
            ushort actual = toHalf(value);
            if (Half.IsNaN(expected))
            {
                if (actual != 0x7FFF) Assert.Fail($"{value:R} (0x{BitConverter.SingleToUInt32Bits(value):X8}): NaN must give the canonical 0x7FFF, got 0x{actual:X4}");
            }
            else if (actual != BitConverter.HalfToUInt16Bits(expected))
                Assert.Fail($"{value:R} (0x{BitConverter.SingleToUInt32Bits(value):X8}): emulator 0x{actual:X4}, .NET 0x{BitConverter.HalfToUInt16Bits(expected):X4}");
        }
        // Every half, the exact midpoints to its neighbour (ties), and one float step either side of them.
        for (int bits = 0; bits < 0x7C00; bits++)
        {
            foreach (int sign in new[] { 0, 0x8000 })
            {
                float value = (float)BitConverter.UInt16BitsToHalf((ushort)(bits | sign));
                float next = bits + 1 < 0x7C00 ? (float)BitConverter.UInt16BitsToHalf((ushort)((bits + 1) | sign)) : (sign == 0 ? 65520f : -65520f);
                float middle = (float)(((double)value + next) / 2);
                Check(value);
                Check(middle);
                Check(MathF.BitIncrement(middle));
                Check(MathF.BitDecrement(middle));
            }
        }
        // A dense sweep over every float bit pattern (infinities, NaNs, values far outside float16's range included).
        for (ulong bits = 0; bits <= uint.MaxValue; bits += 4093) Check(BitConverter.UInt32BitsToSingle((uint)bits));
        Assert.That(checkedValues, Is.GreaterThan(1_000_000));
    }

    // ---- kernels written for these tests, compiled by the fake NVRTC ----------------------------------------

    private const string BuiltinsSource = """
        extern "C" __global__ void __launch_bounds__(64) builtins(int* out, unsigned* ticket, double* partials, double* total)
        {
            const int t = threadIdx.x, lane = t & 31;
            float v = (float)t;
            out[t * 8 + 0] = (int)__shfl_sync(0xFFFFFFFFu, v, 3);
            out[t * 8 + 1] = (int)__shfl_up_sync(0xFFFFFFFFu, v, 2);
            out[t * 8 + 2] = (int)__shfl_down_sync(0xFFFFFFFFu, (double)v, 5);
            out[t * 8 + 3] = __shfl_xor_sync(0xFFFFFFFFu, t, 7);
            out[t * 8 + 4] = (int)__ballot_sync(0xFFFFFFFFu, lane % 3 == 0);
            out[t * 8 + 5] = __syncthreads_count(t % 5 == 0);
            out[t * 8 + 6] = __syncthreads_or(t == 63) + 2 * __syncthreads_and(t < 63);
            // last-block reduction: each block's partial, a fence, a ticket; the last block sums them in order
            __shared__ bool last;
            if (t == 0)
            {
                partials[blockIdx.x] = blockIdx.x + 1.0;
                __threadfence();
                last = atomicAdd(ticket, 1u) == gridDim.x - 1;
            }
            __syncthreads();
            if (last && t == 0)
            {
                double s = 0;
                for (unsigned b = 0; b < gridDim.x; b++) s += partials[b];
                *total = s;
            }
            out[t * 8 + 7] = (int)__float_as_uint(__saturatef(-1.0f)) + (int)atomicCAS(ticket + 1, 0u, 5u);
        }
        """;

    private const string BrokenSource = """
        extern "C" __global__ void early_exit(float* out)
        {
            if (threadIdx.x == 5) return;                       // thread 5 never reaches the barrier
            __syncthreads();
            out[threadIdx.x] = 1.0f;
        }
        extern "C" __global__ void lane_outside_mask(float* out)
        {
            out[threadIdx.x] = __shfl_sync(0x0000FFFFu, 1.0f, 0);   // lanes 16..31 are not in the mask
        }
        extern "C" __global__ void full_mask_in_partial_warp(float* out)
        {
            out[threadIdx.x] = __shfl_xor_sync(0xFFFFFFFFu, 1.0f, 1);  // launched with 48 threads
        }
        extern "C" __global__ void write_past_end(float* out, int n)
        {
            if (threadIdx.x == 0) out[n] = 1.0f;
        }
        """;

    private static CudaModule Load(string source, params string[] defines)
    {
        var output = AslCuda.Cuda.Nvrtc.Compile(source, "test.cu", new Dictionary<string, string>(), ["--gpu-architecture=sm_90", .. defines]);
        return CudaModule.Load(GpuDevice.Get(0).Context, output.Cubin!);
    }

    private static void Launch(CudaModule module, string kernel, int grid, int block, params ulong[] pointersAndInts)
    {
        var device = GpuDevice.Get(0);
        nint function = module.GetFunction(kernel);
        var values = pointersAndInts.ToArray();
        fixed (ulong* v = values)
        {
            var parameters = stackalloc void*[values.Length];
            for (int i = 0; i < values.Length; i++) parameters[i] = v + i;
            using var scope = device.Context.Push();
            Driver.Check(Driver.cuLaunchKernel(function, (uint)grid, 1, 1, (uint)block, 1, 1, 0, 0, parameters, null), "cuLaunchKernel(" + kernel + ")");
        }
    }

    [Test]
    public void Built_ins_give_what_the_CUDA_programming_guide_says()
    {
        using var module = Load(BuiltinsSource);
        var context = GpuDevice.Get(0).Context;
        const int blocks = 5;
        using var output = DeviceMemory.Allocate(context, 64 * 8 * sizeof(int));
        using var ticket = DeviceMemory.Allocate(context, 2 * sizeof(uint));
        using var partials = DeviceMemory.Allocate(context, blocks * sizeof(double));
        using var total = DeviceMemory.Allocate(context, sizeof(double));
        ticket.Fill(0);
        Launch(module, "builtins", blocks, 64, output.Pointer, ticket.Pointer, partials.Pointer, total.Pointer);
        var result = new int[64 * 8];
        output.Download<int>(result);
        var sum = new double[1];
        total.Download<double>(sum);
        GpuDevice.Get(0).Synchronize();

        for (int t = 0; t < 64; t++)
        {
            int lane = t & 31, warpBase = t & ~31;
            Assert.That(result[t * 8 + 0], Is.EqualTo(warpBase + 3), $"__shfl_sync, thread {t}");
            Assert.That(result[t * 8 + 1], Is.EqualTo(lane >= 2 ? t - 2 : t), $"__shfl_up_sync, thread {t}");
            Assert.That(result[t * 8 + 2], Is.EqualTo(lane + 5 < 32 ? t + 5 : t), $"__shfl_down_sync, thread {t}");
            Assert.That(result[t * 8 + 3], Is.EqualTo(warpBase + (lane ^ 7)), $"__shfl_xor_sync, thread {t}");
            Assert.That((uint)result[t * 8 + 4], Is.EqualTo(0x49249249u), $"__ballot_sync, thread {t}");
            Assert.That(result[t * 8 + 5], Is.EqualTo(13), $"__syncthreads_count, thread {t}");
            Assert.That(result[t * 8 + 6], Is.EqualTo(1), $"__syncthreads_or/and, thread {t}");
        }
        Assert.That(sum[0], Is.EqualTo(1.0 + 2 + 3 + 4 + 5), "last-block reduction over the blocks' partials");
        var tickets = new uint[2];
        ticket.Download<uint>(tickets);
        Assert.That(tickets[0], Is.EqualTo(blocks));
        Assert.That(tickets[1], Is.EqualTo(5u), "atomicCAS replaced 0 once");
    }

    private static CudaException LaunchFailure(string kernel, int block, params ulong[] parameters)
    {
        using var module = Load(BrokenSource, "-DVARIANT_UNDER_TEST=7");
        Launch(module, kernel, 2, block, parameters);
        return Assert.Throws<CudaException>(() => GpuDevice.Get(0).Synchronize())!;
    }

    [Test]
    public void A_barrier_that_one_thread_never_reaches_fails_the_launch_naming_kernel_variant_and_block()
    {
        using var output = DeviceMemory.Allocate(GpuDevice.Get(0).Context, 64 * sizeof(float));
        var started = DateTime.UtcNow;
        var error = LaunchFailure("early_exit", 64, output.Pointer);
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_LAUNCH_FAILED"));
        Assert.That(error.Message, Does.Contain("kernel early_exit").And.Contains("-DVARIANT_UNDER_TEST=7").And.Contains("block (0,0,0)")
            .And.Contains("deadlock").And.Contains("__syncthreads"));
        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(60)), "found without waiting for a long timeout");
        Assert.That(CudaDevice.IsAvailable, "the device stays usable");
    }

    [Test]
    public void A_shuffle_from_a_lane_outside_its_mask_fails()
    {
        using var output = DeviceMemory.Allocate(GpuDevice.Get(0).Context, 64 * sizeof(float));
        var error = LaunchFailure("lane_outside_mask", 32, output.Pointer);
        Assert.That(error.Message, Does.Contain("lane_outside_mask").And.Contains("__shfl_sync").And.Contains("does not include the calling lane"));
    }

    [Test]
    public void A_full_mask_shuffle_in_a_partial_warp_fails()
    {
        using var output = DeviceMemory.Allocate(GpuDevice.Get(0).Context, 64 * sizeof(float));
        var error = LaunchFailure("full_mask_in_partial_warp", 48, output.Pointer);
        Assert.That(error.Message, Does.Contain("__shfl_xor_sync").And.Contains("do not exist (the warp has 16 threads)"));
    }

    [Test]
    public void A_write_one_element_past_the_end_is_reported()
    {
        using var output = DeviceMemory.Allocate(GpuDevice.Get(0).Context, 10 * sizeof(float));
        var error = LaunchFailure("write_past_end", 32, output.Pointer, 10);
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.That(error.Message, Does.Contain("write_past_end").And.Contains("past the end of the allocation"));
    }

    [Test]
    public void A_pointer_outside_every_allocation_is_reported_and_with_ASLCUDA_SYNC_names_the_launch()
    {
        var options = new AslOptions { GammaNeg = 3 };   // a variant no other test loads
        nint notDeviceMemory = 0x1000;
        using var loss = DeviceMemory.Allocate(GpuDevice.Get(0).Context, sizeof(float));
        if (GpuDevice.SynchronizeEachLaunch)
        {
            var error = Assert.Throws<CudaException>(() => MultiLabelGpu.Launch(0, AslDataType.Float32, notDeviceMemory, AslDataType.UInt8,
                notDeviceMemory, 100, options, 0, 0, (nint)loss.Pointer, 0))!;
            Assert.That(error.Message, Does.Contain("after asl_multilabel (-DASL_LOGIT_DTYPE=0").And.Contains("ASLCUDA_SYNC=1")
                .And.Contains("pointer parameter 0"));
        }
        else
        {
            MultiLabelGpu.Launch(0, AslDataType.Float32, notDeviceMemory, AslDataType.UInt8, notDeviceMemory, 100, options, 0, 0, (nint)loss.Pointer, 0);
            var error = Assert.Throws<CudaException>(() => GpuDevice.Get(0).Synchronize())!;
            Assert.That(error.Message, Does.Contain("pointer parameter 0 of asl_multilabel"));
        }
    }

    [Test]
    public void A_failed_module_load_is_retried_by_the_next_launch()
    {
        var options = new AslOptions { GammaNeg = 5, Clip = 0 };   // a variant no other test loads
        var x = new float[33];
        var y = new byte[33];
        Control<FailNext>("aslcuda_fake_fail_next")("cuModuleLoadData", 2, 1);   // CUDA_ERROR_OUT_OF_MEMORY once
        var error = Assert.Throws<CudaException>(() => MultiLabelGpu.Compute<float, byte>(x, y, options, [], []))!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_OUT_OF_MEMORY"));
        float loss = MultiLabelGpu.Compute<float, byte>(x, y, options, [], []);
        double expected = AslCuda.Reference.MultiLabelReference.Loss(new double[33], new double[33], options)[0];
        Assert.That(loss, Is.EqualTo(expected).Within(1e-3).Percent);
    }

    [Test]
    public void Nvrtc_is_chosen_for_the_driver_the_fake_reports()
    {
        // The fake driver reports CUDA 12.8 (ASLCUDA_FAKE_DRIVER_VERSION's default) and the fake NVRTC 12.8; the
        // system's NVRTC 11.8 (Debian's libnvrtc11.2, installed by the test command) is the other candidate.
        const string system = "libnvrtc.so.11.2";
        string fake = Environment.GetEnvironmentVariable(NativeLibraries.Nvrtc.OverrideVariable)!;
        if (!NativeLibrary.TryLoad(system, out nint probe)) Assert.Ignore($"{system} is not installed");
        NativeLibrary.Free(probe);
        var driver = NativeLibraries.DriverCudaVersion();
        Assert.That(driver, Is.EqualTo(new Version(12, 8)));
        string[] locations = [fake, system];

        var same = NativeLibraries.SelectNvrtc(driver, locations);
        Assert.That((same.Choice.Chosen?.Version, same.Choice.PtxLoadable), Is.EqualTo((new Version(12, 8), true)), same.Choice.Reason);
        var older = NativeLibraries.SelectNvrtc(new Version(11, 8), locations);
        Assert.That((older.Choice.Chosen?.Version, older.Choice.Chosen?.Location), Is.EqualTo((new Version(11, 8), system)), older.Choice.Reason);
        var olderMinor = NativeLibraries.SelectNvrtc(new Version(12, 4), [fake]);   // minor version compatibility
        Assert.That((olderMinor.Choice.Chosen?.Version, olderMinor.Choice.PtxLoadable), Is.EqualTo((new Version(12, 8), false)), olderMinor.Choice.Reason);
        foreach (var result in new[] { same, older, olderMinor }) NativeLibrary.Free(result.Handle);
    }

    // ---- sanitizers: a reduced case set recorded here, replayed by tests/EmulatedDevice/build/replay-{tsan,asan} ----

    private string? _recording;

    /// <summary>Records the launches of a reduced case set (every layout and element type family, unaligned
    /// starts, ragged tails) once; returns the launch files.</summary>
    private string[] RecordedLaunches()
    {
        if (_recording is null)
        {
            string directory = Path.Combine(Path.GetTempPath(), "aslcuda-sanitize-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(directory);
            var record = Control<Record>("aslcuda_fake_record");
            record(directory);
            try
            {
                var sets = MultiLabelGpuChecks.OptionSets.ToDictionary(o => o.Name, o => o.Options);
                var single = SingleLabelGpuChecks.OptionSets.ToDictionary(o => o.Name, o => o.Options);
                foreach (var result in new[]
                {
                    MultiLabelGpuChecks.Check(new MultiLabelCase("paper-default", AslDataType.Float32, AslDataType.UInt8, sets["paper-default"], true, true, 2051, ElementOffset: 1), seed: 41),
                    MultiLabelGpuChecks.Check(new MultiLabelCase("pow-full-none", AslDataType.Float16, AslDataType.Float32, sets["pow-full-none"], true, false, 1031, ElementOffset: 3), seed: 42),
                    MultiLabelGpuChecks.Check(new MultiLabelCase("coco-full-mean", AslDataType.BFloat16, AslDataType.UInt8, sets["coco-full-mean"], true, true, 517), seed: 43),
                    SingleLabelGpuChecks.Check(new SingleLabelCase("paper-default", AslDataType.Float32, AslIndexType.Int64, single["paper-default"], true, 19, 7), seed: 44),
                    SingleLabelGpuChecks.Check(new SingleLabelCase("pow-none", AslDataType.BFloat16, AslIndexType.Int32, single["pow-none"], true, 3, 2049), seed: 45),
                })
                    Assert.That(result.Passed, result.Name + ": " + result.Detail);
            }
            finally
            {
                record(null);
            }
            _recording = directory;
        }
        return Directory.GetFiles(_recording, "launch-*.txt").Order(StringComparer.Ordinal).ToArray();
    }

    [OneTimeTearDown]
    public void DeleteRecording()
    {
        if (_recording is not null) Directory.Delete(_recording, recursive: true);
    }

    private static string ReplayTool(string sanitizer, [CallerFilePath] string source = "")
    {
        string tool = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../../EmulatedDevice/build", "replay-" + sanitizer));
        if (!File.Exists(tool)) Assert.Ignore($"{tool} is not built (make -C tests/EmulatedDevice sanitizers; ./build.sh test does)");
        return tool;
    }

    /// <summary>Runs a replay tool with a time limit; returns its exit status and output.</summary>
    private static (int Status, string Output) Replay(string sanitizer, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(ReplayTool(sanitizer)) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        start.Environment["TSAN_OPTIONS"] = "halt_on_error=1 exitcode=66";
        start.Environment["ASAN_OPTIONS"] = "detect_leaks=0 halt_on_error=1";
        start.Environment["UBSAN_OPTIONS"] = "halt_on_error=1 print_stacktrace=1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"replay-{sanitizer} did not finish within 5 minutes");
        }
        return (process.ExitCode, output.Result + errors.Result);
    }

    [TestCase("tsan")]
    [TestCase("asan")]
    public void The_kernels_run_clean_under_the_sanitizer(string sanitizer)
    {
        var launches = RecordedLaunches();
        Assert.That(launches, Has.Length.EqualTo(5), "one launch for each of the five recorded cases");
        var (status, output) = Replay(sanitizer, launches);
        Assert.That(output, Does.Not.Contain("Sanitizer").And.Not.Contain("runtime error"), output);
        Assert.That(status, Is.Zero, output);
        Assert.That(output.Split('\n').Count(l => l.StartsWith("replayed ", StringComparison.Ordinal)), Is.EqualTo(launches.Length), output);
    }

    [Test]
    public void Thread_sanitizer_reports_a_planted_missing_barrier()
    {
        var mainLaunch = RecordedLaunches().First(f => File.ReadAllText(f).Contains("kernel asl_multilabel\n"));
        var (status, output) = Replay("tsan", ["--plant-missing-barrier", mainLaunch]);
        Assert.That(output, Does.Contain("ThreadSanitizer: data race"), output);
        Assert.That(status, Is.Not.Zero, output);
    }

    [Test]
    public void Address_sanitizer_reports_a_planted_read_past_the_end()
    {
        var mainLaunch = RecordedLaunches().First(f => File.ReadAllText(f).Contains("kernel asl_multilabel\n"));
        var (status, output) = Replay("asan", ["--plant-short-input", mainLaunch]);
        Assert.That(output, Does.Contain("AddressSanitizer: heap-buffer-overflow"), output);
        Assert.That(status, Is.Not.Zero, output);
    }
}
