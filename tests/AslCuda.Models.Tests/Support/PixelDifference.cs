namespace AslCuda.Models.Tests.Support;

/// <summary>Differences between two RGB byte arrays of one picture, in grey levels.</summary>
internal readonly record struct PixelDifference(int Max, double Mean, long Differing, long Count)
{
    public static PixelDifference Of(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        if (expected.Length != actual.Length)
            throw new ArgumentException($"{expected.Length} expected bytes against {actual.Length} actual ones.");
        int max = 0;
        long sum = 0, differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            if (d == 0) continue;
            max = Math.Max(max, d);
            sum += d;
            differing++;
        }
        return new PixelDifference(max, expected.Length == 0 ? 0 : (double)sum / expected.Length, differing, expected.Length);
    }

    public override string ToString() => $"max {Max}, mean {Mean:F4}, {Differing} of {Count} values differ";
}
