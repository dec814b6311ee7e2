using System.Runtime.InteropServices;

namespace AslCuda.Cuda;

/// <summary>
/// The CUDA driver API functions this library uses, one binding each, and the one place that turns a
/// CUresult into a <see cref="CudaException"/>. Device pointers are <c>ulong</c> (CUdeviceptr); handles
/// (contexts, modules, functions, events, streams) are <c>nint</c>.
/// </summary>
internal static unsafe partial class Driver
{
    private const string Library = "aslcuda-cuda-driver";

    static Driver() => NativeLibraries.EnsureResolver();

    public enum DeviceAttribute
    {
        MultiprocessorCount = 16,
        ComputeCapabilityMajor = 75,
        ComputeCapabilityMinor = 76,
        MaxBlocksPerMultiprocessor = 106,
        L2CacheSize = 38,
    }

    public enum FunctionAttribute
    {
        LocalSizeBytes = 3,
        NumRegisters = 4,
    }

    /// <summary>Throws a <see cref="CudaException"/> with the driver's name and text for a failed call.</summary>
    public static void Check(int status, string call)
    {
        if (status == 0) return;
        throw new CudaException(call, status, ErrorText(status, name: true), ErrorText(status, name: false));
    }

    private static string ErrorText(int status, bool name)
    {
        byte* text;
        int lookup = name ? cuGetErrorName(status, &text) : cuGetErrorString(status, &text);
        return lookup == 0 && text != null ? Marshal.PtrToStringUTF8((nint)text)! : $"unknown CUresult {status}";
    }

    [LibraryImport(Library)] public static partial int cuInit(uint flags);
    [LibraryImport(Library)] public static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Library)] public static partial int cuGetErrorName(int error, byte** name);
    [LibraryImport(Library)] public static partial int cuGetErrorString(int error, byte** text);

    [LibraryImport(Library)] public static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Library)] public static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Library)] public static partial int cuDeviceGetAttribute(out int value, DeviceAttribute attribute, int device);
    [LibraryImport(Library)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Library, EntryPoint = "cuDeviceTotalMem_v2")] public static partial int cuDeviceTotalMem(out nuint bytes, int device);

    [LibraryImport(Library)] public static partial int cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static partial int cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(Library, EntryPoint = "cuCtxPushCurrent_v2")] public static partial int cuCtxPushCurrent(nint context);
    [LibraryImport(Library, EntryPoint = "cuCtxPopCurrent_v2")] public static partial int cuCtxPopCurrent(out nint context);
    [LibraryImport(Library)] public static partial int cuCtxSynchronize();

    [LibraryImport(Library)] public static partial int cuModuleLoadData(out nint module, byte* image);
    [LibraryImport(Library)] public static partial int cuModuleUnload(nint module);
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(Library)] public static partial int cuFuncGetAttribute(out int value, FunctionAttribute attribute, nint function);
    [LibraryImport(Library)] public static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int blockSize, nuint dynamicSharedBytes);
    [LibraryImport(Library)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(Library, EntryPoint = "cuMemAlloc_v2")] public static partial int cuMemAlloc(out ulong pointer, nuint bytes);
    [LibraryImport(Library, EntryPoint = "cuMemFree_v2")] public static partial int cuMemFree(ulong pointer);
    [LibraryImport(Library, EntryPoint = "cuMemcpyHtoD_v2")] public static partial int cuMemcpyHtoD(ulong destination, void* source, nuint bytes);
    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoH_v2")] public static partial int cuMemcpyDtoH(void* destination, ulong source, nuint bytes);
    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoD_v2")] public static partial int cuMemcpyDtoD(ulong destination, ulong source, nuint bytes);
    [LibraryImport(Library, EntryPoint = "cuMemsetD8_v2")] public static partial int cuMemsetD8(ulong destination, byte value, nuint count);

    [LibraryImport(Library)] public static partial int cuEventCreate(out nint cudaEvent, uint flags);
    [LibraryImport(Library)] public static partial int cuEventRecord(nint cudaEvent, nint stream);
    [LibraryImport(Library)] public static partial int cuEventSynchronize(nint cudaEvent);
    [LibraryImport(Library)] public static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);
    [LibraryImport(Library, EntryPoint = "cuEventDestroy_v2")] public static partial int cuEventDestroy(nint cudaEvent);
}
