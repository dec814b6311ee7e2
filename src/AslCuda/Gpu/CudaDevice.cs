using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AslCuda.Cuda;

namespace AslCuda.Gpu;

/// <summary>Whether CUDA can run here, and what on.</summary>
public static class CudaDevice
{
    // A found device is remembered; "unavailable" is probed again next time (cheap: a library that does not
    // load is remembered by NativeLibraries), so a transient driver failure does not hide the GPU for good.
    private static readonly Once<int> FoundDevices = new(() =>
    {
        var (count, reason) = ProbeDevices();
        return count > 0 ? count : throw new InvalidOperationException(reason);
    });

    private static (int Count, string? Reason) Probe
    {
        get
        {
            try
            {
                return (FoundDevices.Value, null);
            }
            catch (InvalidOperationException e)
            {
                return (0, e.Message);
            }
        }
    }

    /// <summary>True when the CUDA driver loads, initializes and reports at least one device. Never throws.</summary>
    public static bool IsAvailable => Probe.Count > 0;

    /// <summary>Number of CUDA devices (0 when CUDA is unavailable).</summary>
    public static int Count => Probe.Count;

    /// <summary>
    /// One line per device (name, compute capability, multiprocessors, memory) plus the driver and NVRTC
    /// versions, or why CUDA is unavailable. Never throws.
    /// </summary>
    public static string Describe()
    {
        var lines = new List<string>();
        var (count, reason) = Probe;
        if (reason is not null) lines.Add($"CUDA unavailable: {reason}");
        else
        {
            lines.Add($"CUDA driver {FormatVersion(GpuDevice.DriverVersion)}, {count} device(s)");
            for (int i = 0; i < count; i++)
            {
                try
                {
                    var d = GpuDevice.Get(i);
                    lines.Add($"  [{i}] {d.Name}: sm_{d.ComputeCapability}, {d.MultiprocessorCount} SMs, " +
                              $"{d.TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, L2 {d.L2CacheBytes / (1024 * 1024)} MiB");
                }
                catch (Exception e)
                {
                    lines.Add($"  [{i}] unusable: {e.Message}");
                }
            }
        }
        try
        {
            lines.Add($"{NativeLibraries.NvrtcChoice.Reason} (sm_{string.Join(", sm_", Nvrtc.SupportedArchitectures())})");
        }
        catch (Exception e)   // also a library that is not NVRTC (EntryPointNotFoundException): Describe never throws
        {
            lines.Add($"NVRTC unavailable: {e.Message}");
        }
        return string.Join(Environment.NewLine, lines);
    }

    private static (int Count, string? Reason) ProbeDevices()
    {
        try
        {
            GpuDevice.InitializeDriver();
            Driver.Check(Driver.cuDeviceGetCount(out int count), nameof(Driver.cuDeviceGetCount));
            return count > 0 ? (count, null) : (0, "the driver reports no device");
        }
        catch (Exception e)   // whatever stops the driver from loading means "not available", never an exception
        {
            return (0, e.Message);
        }
    }

    private static string FormatVersion(int version) => $"{version / 1000}.{version % 1000 / 10}";
}

/// <summary>
/// One device as the launchers use it: its primary context, properties, the loaded kernels, a small
/// workspace for per-block partial sums and the lock that keeps one launcher's kernel pair together on
/// the default stream.
/// </summary>
internal sealed class GpuDevice
{
    private static readonly Once<int> InitializedDriverVersion = new(() =>
    {
        NativeLibraries.LoadDriver();
        Driver.Check(Driver.cuInit(0), nameof(Driver.cuInit));
        Driver.Check(Driver.cuDriverGetVersion(out int version), nameof(Driver.cuDriverGetVersion));
        return version;
    });

    private static readonly ConcurrentDictionary<int, Lazy<GpuDevice>> Devices = new();

    private readonly ConcurrentDictionary<string, Lazy<CudaModule>> _modules = new();
    private readonly Once<DeviceMemory> _workspace;
    private readonly ConditionalWeakTable<float[], DeviceMemory> _classFactors = new();

    public int Ordinal { get; }
    public string Name { get; }
    public int ComputeCapability { get; }
    public int MultiprocessorCount { get; }
    public int MaxBlocksPerMultiprocessor { get; }
    public long TotalMemoryBytes { get; }
    public long L2CacheBytes { get; }
    public PrimaryContext Context { get; }

    /// <summary>Held while a launcher enqueues its kernels, which share <see cref="Workspace"/>.</summary>
    public Lock LaunchLock { get; } = new();

    /// <summary>Room for the per-block partial sums of any launch: 8 doubles per resident block, then the
    /// kernels' last-block ticket (one unsigned int, zeroed here; each launch's last block puts it back to 0).</summary>
    public DeviceMemory Workspace => _workspace.Value;

    /// <summary>Device address of the last-block ticket in <see cref="Workspace"/>.</summary>
    public ulong WorkspaceTicket => Workspace.Pointer + (ulong)(WorkspaceBlocks * WorkspaceDoublesPerBlock * sizeof(double));

    public const int WorkspaceDoublesPerBlock = 8;

    private long WorkspaceBlocks => (long)MultiprocessorCount * MaxBlocksPerMultiprocessor;

    /// <summary>The CUDA driver's version (e.g. 13000), initializing the driver on first use.</summary>
    public static int DriverVersion => InitializedDriverVersion.Value;

    public static void InitializeDriver() => _ = InitializedDriverVersion.Value;

    public static GpuDevice Get(int ordinal) => OnceCache.Get(Devices, ordinal, o => new GpuDevice(o));

    /// <summary>ASLCUDA_SYNC=1: wait for the device after each launch, so an asynchronous fault is reported by the
    /// launch that caused it, naming the kernel and variant (otherwise it surfaces at a later, unrelated call).</summary>
    public static bool SynchronizeEachLaunch { get; } = Environment.GetEnvironmentVariable("ASLCUDA_SYNC") == "1";

    /// <summary>ASLCUDA_LINEINFO=1: compile kernels with -lineinfo, so compute-sanitizer and Nsight show source lines.</summary>
    public static bool LineInfo { get; } = Environment.GetEnvironmentVariable("ASLCUDA_LINEINFO") == "1";

    private unsafe GpuDevice(int ordinal)
    {
        InitializeDriver();
        Driver.Check(Driver.cuDeviceGetCount(out int count), nameof(Driver.cuDeviceGetCount));
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"there are {count} CUDA device(s).");
        Driver.Check(Driver.cuDeviceGet(out int device, ordinal), nameof(Driver.cuDeviceGet));
        Ordinal = ordinal;
        var name = stackalloc byte[256];
        Driver.Check(Driver.cuDeviceGetName(name, 256, device), nameof(Driver.cuDeviceGetName));
        Name = new string((sbyte*)name);
        ComputeCapability = 10 * Attribute(device, Driver.DeviceAttribute.ComputeCapabilityMajor)
                            + Attribute(device, Driver.DeviceAttribute.ComputeCapabilityMinor);
        MultiprocessorCount = Attribute(device, Driver.DeviceAttribute.MultiprocessorCount);
        MaxBlocksPerMultiprocessor = Attribute(device, Driver.DeviceAttribute.MaxBlocksPerMultiprocessor);
        L2CacheBytes = Attribute(device, Driver.DeviceAttribute.L2CacheSize);
        Driver.Check(Driver.cuDeviceTotalMem(out nuint total, device), nameof(Driver.cuDeviceTotalMem));
        TotalMemoryBytes = (long)total;
        Context = PrimaryContext.Retain(device);
        _workspace = new Once<DeviceMemory>(() =>
        {
            var workspace = DeviceMemory.Allocate(Context, WorkspaceBlocks * WorkspaceDoublesPerBlock * sizeof(double) + sizeof(double));
            try
            {
                workspace.Fill(0);
            }
            catch
            {
                workspace.Dispose();
                throw;
            }
            return workspace;
        });
    }

    /// <summary>
    /// Device address of a per-class factor vector of <see cref="AslOptions"/> (the class weight or pos_weight, [C]
    /// float32), uploaded on first use and then reused: the options own a private copy of the values (taken when
    /// set, never changed; <c>with</c> copies share it), so that array is the key. The copy lives as long as the
    /// array: when the options are collected, the table drops it and its handle's finalizer frees it (cuMemFree
    /// synchronizes with the device, so a launch still in flight keeps reading valid memory). Call under
    /// <see cref="LaunchLock"/>, so two launches never upload the same vector twice.
    /// </summary>
    public ulong ClassFactors(ReadOnlyMemory<float> factors)
    {
        if (!MemoryMarshal.TryGetArray(factors, out var segment) || segment.Offset != 0 || segment.Count != segment.Array!.Length)
            throw new ArgumentException("per-class factors must be the options' own array.", nameof(factors));
        return _classFactors.GetValue(segment.Array, values =>
        {
            var memory = DeviceMemory.Allocate(Context, (long)values.Length * sizeof(float));
            try
            {
                memory.Upload<float>(values);
            }
            catch
            {
                memory.Dispose();
                throw;
            }
            return memory;
        }).Pointer;
    }

    /// <summary>The module of one kernel variant, compiled (or taken from the cache) and loaded once per device.</summary>
    public CudaModule Module(KernelProgram program, IReadOnlyList<string> defines)
    {
        IReadOnlyList<string> options = LineInfo ? [.. defines, "-lineinfo"] : defines;
        string key = program.FileName + "|" + string.Join(' ', options);
        return OnceCache.Get(_modules, key, _ => CudaModule.Load(Context, KernelCache.Shared.Get(program, options, ComputeCapability).Image));
    }

    /// <summary>With <see cref="SynchronizeEachLaunch"/>, waits for the launch just enqueued and names it in the error.</summary>
    public void AfterLaunch(string kernel, IReadOnlyList<string> defines)
    {
        if (!SynchronizeEachLaunch) return;
        using var scope = Context.Push();
        Driver.Check(Driver.cuCtxSynchronize(), $"cuCtxSynchronize after {kernel} ({string.Join(' ', defines)}; ASLCUDA_SYNC=1)");
    }

    /// <summary>Resident blocks of <paramref name="function"/> per multiprocessor at <paramref name="blockSize"/> threads.</summary>
    public int Occupancy(nint function, int blockSize)
    {
        using var scope = Context.Push();
        Driver.Check(Driver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, function, blockSize, 0),
            nameof(Driver.cuOccupancyMaxActiveBlocksPerMultiprocessor));
        return Math.Max(blocks, 1);
    }

    /// <summary>An attribute of a loaded function (registers, local memory).</summary>
    public int Attribute(nint function, Driver.FunctionAttribute attribute)
    {
        using var scope = Context.Push();
        Driver.Check(Driver.cuFuncGetAttribute(out int value, attribute, function), $"{nameof(Driver.cuFuncGetAttribute)}({attribute})");
        return value;
    }

    /// <summary>Waits for all work on this device's context, so that an asynchronous kernel fault surfaces here.</summary>
    public void Synchronize()
    {
        using var scope = Context.Push();
        Driver.Check(Driver.cuCtxSynchronize(), nameof(Driver.cuCtxSynchronize));
    }

    private static int Attribute(int device, Driver.DeviceAttribute attribute)
    {
        Driver.Check(Driver.cuDeviceGetAttribute(out int value, attribute, device), $"{nameof(Driver.cuDeviceGetAttribute)}({attribute})");
        return value;
    }
}
