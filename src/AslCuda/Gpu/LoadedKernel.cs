using System.Collections.Concurrent;
using AslCuda.Cuda;

namespace AslCuda.Gpu;

/// <summary>
/// One compiled kernel variant's function on one device (each loss is one launch: the last block reduces the
/// per-block partials), how many of its blocks fit on the device at once, which caps its grid, and its
/// registers per thread and local memory per thread as the driver loaded it (local memory means spills).
/// </summary>
internal sealed record LoadedKernel(nint Function, int MaxResidentBlocks, int Registers, int LocalBytes)
{
    private static readonly ConcurrentDictionary<(int Device, string Program, string Defines), Lazy<LoadedKernel>> Loaded = new();

    public static LoadedKernel Get(GpuDevice device, KernelProgram program, IReadOnlyList<string> defines, string name, int blockSize) =>
        OnceCache.Get(Loaded, (device.Ordinal, program.FileName, string.Join(' ', defines)), _ =>
        {
            var module = device.Module(program, defines);
            nint function = module.GetFunction(name);
            int perMultiprocessor = Math.Min(device.Occupancy(function, blockSize), device.MaxBlocksPerMultiprocessor);
            return new LoadedKernel(function, perMultiprocessor * device.MultiprocessorCount,
                device.Attribute(function, Driver.FunctionAttribute.NumRegisters), device.Attribute(function, Driver.FunctionAttribute.LocalSizeBytes));
        });
}
