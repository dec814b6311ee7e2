using System.Collections.Concurrent;

namespace AslCuda.Gpu;

/// <summary>
/// The two functions of one compiled variant (the main kernel and its one-block finisher) on one device,
/// and how many blocks of the main kernel fit on the device at once, which caps its grid.
/// </summary>
internal sealed record KernelPair(nint Main, nint Finish, int MaxResidentBlocks)
{
    private static readonly ConcurrentDictionary<(int Device, string Program, string Defines), Lazy<KernelPair>> Loaded = new();

    public static KernelPair Get(GpuDevice device, KernelProgram program, IReadOnlyList<string> defines, string mainName, string finishName, int blockSize) =>
        Loaded.GetOrAdd((device.Ordinal, program.FileName, string.Join(' ', defines)), _ => new Lazy<KernelPair>(() =>
        {
            var module = device.Module(program, defines);
            nint main = module.GetFunction(mainName);
            int perMultiprocessor = Math.Min(device.Occupancy(main, blockSize), device.MaxBlocksPerMultiprocessor);
            return new KernelPair(main, module.GetFunction(finishName), perMultiprocessor * device.MultiprocessorCount);
        })).Value;
}
