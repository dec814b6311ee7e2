using System.Text;
using AslCuda.Gpu;

namespace AslCuda.Tests.Nvrtc;

/// <summary>Compiles one kernel variant to a CUBIN with ptxas's resource report and checks what every variant must satisfy.</summary>
internal static class KernelCompileAssert
{
    /// <summary>Also checks the launch interface: the entry's parameters match the launcher's argument array in
    /// count, sizes and order, and its .maxntid is the block size the launcher uses.</summary>
    public static void CompilesCleanly(KernelProgram program, IReadOnlyList<string> defines, int architecture, string entryPoint,
        int[] argumentBytes, int blockSize)
    {
        var output = AslCuda.Cuda.Nvrtc.Compile(program.Source, program.FileName, program.Headers,
            [$"--gpu-architecture=sm_{architecture}", "--std=c++17", "--ptxas-options=-v", .. defines]);
        string ptx = Encoding.UTF8.GetString(output.Ptx).TrimEnd('\0');
        // With -v the log holds ptxas's resource report (lines starting "ptxas"); anything else is a warning.
        string[] lines = output.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Multiple(() =>
        {
            Assert.That(lines.Where(l => !l.StartsWith("ptxas", StringComparison.Ordinal) || l.Contains("warning")), Is.Empty, "NVRTC log (warnings)");
            Assert.That(lines.Where(l => l.Contains("spill stores")).ToArray(),
                Has.Length.EqualTo(1).And.All.Contains("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"),
                "stack frames or register spills");
            var listing = new PtxListing(ptx, entryPoint);
            Assert.That(listing.ParameterBytes, Is.EqualTo(argumentBytes), "kernel parameters (bytes, in order) against the launcher's arguments");
            Assert.That(listing.MaxThreads, Is.EqualTo(blockSize), ".maxntid against the launched block size");
            Assert.That(ptx, Does.Not.Contain(".local"), "local memory (stack arrays)");
            Assert.That(output.Cubin, Is.Not.Null);
            Assert.That(output.Cubin![..4], Is.EqualTo(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }));
        });
    }
}
