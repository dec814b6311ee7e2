using System.Runtime.InteropServices;

namespace AslCuda.Cuda;

/// <summary>A device's primary context, retained once; the same context the CUDA runtime (and so libtorch) uses.</summary>
internal sealed class PrimaryContext : SafeHandle
{
    public int Device { get; }

    private PrimaryContext(nint context, int device) : base(0, ownsHandle: true)
    {
        SetHandle(context);
        Device = device;
    }

    public static PrimaryContext Retain(int device)
    {
        Driver.Check(Driver.cuDevicePrimaryCtxRetain(out nint context, device), nameof(Driver.cuDevicePrimaryCtxRetain));
        return new PrimaryContext(context, device);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Makes this context current on the calling thread until the scope is disposed.</summary>
    public ContextScope Push()
    {
        Driver.Check(Driver.cuCtxPushCurrent(handle), nameof(Driver.cuCtxPushCurrent));
        return new ContextScope();
    }

    protected override bool ReleaseHandle() => Driver.cuDevicePrimaryCtxRelease(Device) == 0;
}

/// <summary>Pops the context pushed by <see cref="PrimaryContext.Push"/>.</summary>
internal readonly struct ContextScope : IDisposable
{
    public void Dispose() => Driver.Check(Driver.cuCtxPopCurrent(out _), nameof(Driver.cuCtxPopCurrent));
}

/// <summary>Device memory from cuMemAlloc, freed in its context.</summary>
internal sealed unsafe class DeviceMemory : SafeHandle
{
    private readonly PrimaryContext _context;

    public long Bytes { get; }

    /// <summary>The device address (CUdeviceptr).</summary>
    public ulong Pointer => (ulong)handle;

    private DeviceMemory(PrimaryContext context, ulong pointer, long bytes) : base(0, ownsHandle: true)
    {
        _context = context;
        Bytes = bytes;
        SetHandle((nint)pointer);
    }

    public static DeviceMemory Allocate(PrimaryContext context, long bytes)
    {
        using var scope = context.Push();
        Driver.Check(Driver.cuMemAlloc(out ulong pointer, (nuint)Math.Max(bytes, 1)), nameof(Driver.cuMemAlloc));
        return new DeviceMemory(context, pointer, bytes);
    }

    public void Upload<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        if ((long)source.Length * sizeof(T) > Bytes) throw new ArgumentException("source is larger than the allocation.", nameof(source));
        using var scope = _context.Push();
        fixed (T* s = source) Driver.Check(Driver.cuMemcpyHtoD(Pointer, s, (nuint)(source.Length * sizeof(T))), nameof(Driver.cuMemcpyHtoD));
    }

    public void Download<T>(Span<T> destination) where T : unmanaged
    {
        if ((long)destination.Length * sizeof(T) > Bytes) throw new ArgumentException("destination is larger than the allocation.", nameof(destination));
        using var scope = _context.Push();
        fixed (T* d = destination) Driver.Check(Driver.cuMemcpyDtoH(d, Pointer, (nuint)(destination.Length * sizeof(T))), nameof(Driver.cuMemcpyDtoH));
    }

    /// <summary>Sets every byte (0xFF makes every float and double a NaN).</summary>
    public void Fill(byte value)
    {
        using var scope = _context.Push();
        Driver.Check(Driver.cuMemsetD8(Pointer, value, (nuint)Bytes), nameof(Driver.cuMemsetD8));
    }

    /// <summary>Copies this whole allocation to <paramref name="destination"/> on the default stream.</summary>
    public void CopyTo(DeviceMemory destination)
    {
        using var scope = _context.Push();
        Driver.Check(Driver.cuMemcpyDtoD(destination.Pointer, Pointer, (nuint)Math.Min(Bytes, destination.Bytes)), nameof(Driver.cuMemcpyDtoD));
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        if (Driver.cuCtxPushCurrent(_context.DangerousGetHandle()) != 0) return false;
        bool freed = Driver.cuMemFree(Pointer) == 0;
        return Driver.cuCtxPopCurrent(out _) == 0 && freed;
    }
}

/// <summary>A loaded module (CUBIN or PTX) and the functions looked up in it.</summary>
internal sealed unsafe class CudaModule : SafeHandle
{
    private readonly PrimaryContext _context;

    private CudaModule(PrimaryContext context, nint module) : base(0, ownsHandle: true)
    {
        _context = context;
        SetHandle(module);
    }

    /// <summary>Loads a CUBIN, or a zero-terminated PTX text that the driver compiles for the device.</summary>
    public static CudaModule Load(PrimaryContext context, byte[] image)
    {
        using var scope = context.Push();
        nint module;
        fixed (byte* i = image) Driver.Check(Driver.cuModuleLoadData(out module, i), nameof(Driver.cuModuleLoadData));
        return new CudaModule(context, module);
    }

    public nint GetFunction(string name)
    {
        using var scope = _context.Push();
        Driver.Check(Driver.cuModuleGetFunction(out nint function, handle, name), $"{nameof(Driver.cuModuleGetFunction)}({name})");
        return function;
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        if (Driver.cuCtxPushCurrent(_context.DangerousGetHandle()) != 0) return false;
        bool unloaded = Driver.cuModuleUnload(handle) == 0;
        return Driver.cuCtxPopCurrent(out _) == 0 && unloaded;
    }
}

/// <summary>A CUDA event for timing work on the default stream.</summary>
internal sealed class CudaEvent : SafeHandle
{
    private readonly PrimaryContext _context;

    private CudaEvent(PrimaryContext context, nint cudaEvent) : base(0, ownsHandle: true)
    {
        _context = context;
        SetHandle(cudaEvent);
    }

    public static CudaEvent Create(PrimaryContext context)
    {
        using var scope = context.Push();
        Driver.Check(Driver.cuEventCreate(out nint cudaEvent, 0), nameof(Driver.cuEventCreate));
        return new CudaEvent(context, cudaEvent);
    }

    public void Record()
    {
        using var scope = _context.Push();
        Driver.Check(Driver.cuEventRecord(handle, 0), nameof(Driver.cuEventRecord));
    }

    /// <summary>Milliseconds from <paramref name="start"/> to this event, after waiting for this one.</summary>
    public float MillisecondsSince(CudaEvent start)
    {
        using var scope = _context.Push();
        Driver.Check(Driver.cuEventSynchronize(handle), nameof(Driver.cuEventSynchronize));
        Driver.Check(Driver.cuEventElapsedTime(out float milliseconds, start.handle, handle), nameof(Driver.cuEventElapsedTime));
        return milliseconds;
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        if (Driver.cuCtxPushCurrent(_context.DangerousGetHandle()) != 0) return false;
        bool destroyed = Driver.cuEventDestroy(handle) == 0;
        return Driver.cuCtxPopCurrent(out _) == 0 && destroyed;
    }
}
