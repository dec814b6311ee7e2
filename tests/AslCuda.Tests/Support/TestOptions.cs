namespace AslCuda.Tests.Support;

/// <summary>Option sets that several test classes share.</summary>
internal static class TestOptions
{
    /// <summary>The full gradient (the focusing weight not detached) and batchmean: two extensions' worth of switches at once.</summary>
    public static AslOptions FullGradientBatchMean => new() { DetachFocalWeight = false, Reduction = AslReduction.BatchMean };
}
