using System.Collections.Concurrent;
using AslCuda.Cuda;

namespace AslCuda.Gpu;

/// <summary>
/// The two functions of one compiled variant (the main kernel and its one-block finisher) on one device,
/// how many blocks of the main kernel fit on the device at once, which caps its grid, and the main kernel's
/// registers per thread and local memory per thread as the driver loaded it (local memory means spills).
/// </summary>
internal sealed record KernelPair(nint Main, nint Finish, int MaxResidentBlocks, int Registers, int LocalBytes)
{
    private static readonly ConcurrentDictionary<(int Device, string Program, string Defines), Lazy<KernelPair>> Loaded = new();

    public static KernelPair Get(GpuDevice device, KernelProgram program, IReadOnlyList<string> defines, string mainName, string finishName, int blockSize) =>
        OnceCache.Get(Loaded, (device.Ordinal, program.FileName, string.Join(' ', defines)), _ =>
        {
            var module = device.Module(program, defines);
            nint main = module.GetFunction(mainName);
            int perMultiprocessor = Math.Min(device.Occupancy(main, blockSize), device.MaxBlocksPerMultiprocessor);
            return new KernelPair(main, module.GetFunction(finishName), perMultiprocessor * device.MultiprocessorCount,
                device.Attribute(main, Driver.FunctionAttribute.NumRegisters), device.Attribute(main, Driver.FunctionAttribute.LocalSizeBytes));
        });
}
