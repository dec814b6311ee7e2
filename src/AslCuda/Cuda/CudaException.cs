namespace AslCuda.Cuda;

/// <summary>A CUDA driver API call failed; carries the driver's own error name and description.</summary>
public sealed class CudaException(string call, int errorCode, string errorName, string errorText)
    : Exception($"{call} failed: {errorName} ({errorCode}): {errorText}")
{
    /// <summary>The driver function that failed.</summary>
    public string Call { get; } = call;

    /// <summary>The CUresult value.</summary>
    public int ErrorCode { get; } = errorCode;

    /// <summary>The driver's name for the error, e.g. CUDA_ERROR_OUT_OF_MEMORY.</summary>
    public string ErrorName { get; } = errorName;
}

/// <summary>An NVRTC call failed; carries NVRTC's error name and, for a failed compile, the compile log.</summary>
public sealed class NvrtcException(string call, int errorCode, string errorName, string log)
    : Exception(log.Length == 0 ? $"{call} failed: {errorName} ({errorCode})" : $"{call} failed: {errorName} ({errorCode}):\n{log}")
{
    public string Call { get; } = call;

    /// <summary>The nvrtcResult value.</summary>
    public int ErrorCode { get; } = errorCode;

    /// <summary>NVRTC's name for the error, e.g. NVRTC_ERROR_COMPILATION.</summary>
    public string ErrorName { get; } = errorName;

    /// <summary>The program log of the failed compile (empty for other calls).</summary>
    public string Log { get; } = log;
}

/// <summary>The CUDA driver or NVRTC library could not be loaded; the message says what was tried and how to install it.</summary>
public sealed class CudaLibraryNotFoundException(string message) : DllNotFoundException(message);
