using AslCuda.Cuda;

namespace AslCuda.Tests.Nvrtc;

/// <summary>NVRTC tests run wherever NVRTC loads. Where it does not they are ignored with the reason, unless
/// ASLCUDA_REQUIRE_NVRTC=1 (CI sets it), which turns a missing NVRTC into a failure.</summary>
internal static class NvrtcRequirement
{
    public static void Require()
    {
        try
        {
            _ = AslCuda.Cuda.Nvrtc.Version;
        }
        catch (CudaLibraryNotFoundException e)
        {
            if (Environment.GetEnvironmentVariable("ASLCUDA_REQUIRE_NVRTC") == "1")
                Assert.Fail("ASLCUDA_REQUIRE_NVRTC=1 but NVRTC could not be loaded: " + e.Message);
            Assert.Ignore("NVRTC not found (set ASLCUDA_REQUIRE_NVRTC=1 to make this a failure): " + e.Message);
        }
    }
}
