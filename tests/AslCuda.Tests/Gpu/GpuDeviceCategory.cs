namespace AslCuda.Tests.Gpu;

/// <summary>
/// The tests that need a CUDA device: a GPU, or in CI the emulated device (tests/EmulatedDevice), which
/// .ci/run selects for a second `dotnet test --filter TestCategory=GpuDevice` with ASLCUDA_CUDA_DRIVER_PATH and
/// ASLCUDA_NVRTC_PATH naming the fake library. The first run (TestCategory!=GpuDevice) keeps the real NVRTC for
/// the compile tests; one process cannot load both NVRTCs.
/// </summary>
internal static class GpuDeviceCategory
{
    public const string Name = "GpuDevice";
}
