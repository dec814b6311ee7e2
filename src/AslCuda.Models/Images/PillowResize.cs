using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace AslCuda.Models.Images;

/// <summary>The resampling filters of the official scripts.</summary>
public enum ResampleFilter
{
    /// <summary>Triangle filter, support 1: torchvision's <c>Resize</c> on a PIL image (validate.py).</summary>
    Bilinear,

    /// <summary>Cubic convolution with a = -0.5, support 2: Pillow's default for RGB (infer.py).</summary>
    Bicubic,
}

/// <summary>
/// Resizing that gives the pixels of Pillow 9.4's <c>Image.resize((width, height), filter)</c> on an 8-bit RGB
/// picture. The facts it reproduces (Pillow's documentation and Resample.c, code written here):
/// <list type="bullet">
/// <item>A separable filter: a horizontal pass (only over the source rows the vertical pass will read) into an
/// 8-bit intermediate, then a vertical pass; an axis whose size does not change is not resampled at all, and a
/// picture whose size does not change is copied.</item>
/// <item>For output index i the filter is centred on (i + 0.5) * scale in source coordinates, scale = in / out.
/// When shrinking, the filter is stretched by the scale (support and argument both), which anti-aliases; when
/// enlarging it keeps its own support. Taps run over source indices [trunc(centre - support + 0.5),
/// trunc(centre + support + 0.5)) clipped to the picture, each weighted by filter((j - centre + 0.5) / stretch);
/// the weights are divided by their sum.</item>
/// <item>Weights become fixed point with 22 fraction bits (rounded half away from zero); each output is the
/// integer sum of pixel * weight plus 2^21, shifted right by 22 (floor) and clipped to 0..255, in both passes.</item>
/// </list>
/// All arithmetic before the fixed-point step is in double, in the same order as Pillow's, and the rest is exact
/// integer arithmetic, so the result is the same bytes, not an approximation.
/// </summary>
public static class PillowResize
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const int Half = 1 << (PrecisionBits - 1);

    /// <summary>Resizes <paramref name="source"/> to <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static RgbImage Resize(RgbImage source, int width, int height, ResampleFilter filter)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (!Enum.IsDefined(filter)) throw new ArgumentOutOfRangeException(nameof(filter), filter, "not a resampling filter.");

        if (width == source.Width && height == source.Height)
            return new RgbImage(width, height, (byte[])source.Pixels.Clone());

        var vertical = AxisWeights.Compute(source.Height, height, filter);
        RgbImage rows = source;
        int rowOffset = 0;
        if (width != source.Width)
        {
            var horizontal = AxisWeights.Compute(source.Width, width, filter);
            // Only the source rows that the vertical pass reads are resampled horizontally.
            int first = vertical.Start[0];
            int last = vertical.Start[height - 1] + vertical.Count[height - 1];
            rows = new RgbImage(width, last - first);
            HorizontalPass(source, first, rows, horizontal);
            rowOffset = first;
        }
        if (height == source.Height) return rows;

        var output = new RgbImage(width, height);
        VerticalPass(rows, rowOffset, output, vertical);
        return output;
    }

    /// <summary>Each output pixel is a weighted sum of source pixels of the same row: all four bytes of a pixel in one 32-bit-lane vector.</summary>
    private static void HorizontalPass(RgbImage source, int firstRow, RgbImage output, AxisWeights weights)
    {
        int taps = weights.Stride;
        var rounding = Vector128.Create(Half);
        for (int y = 0; y < output.Height; y++)
        {
            ref byte sourceRow = ref MemoryMarshal.GetArrayDataReference(source.Pixels);
            sourceRow = ref Unsafe.Add(ref sourceRow, (nint)(firstRow + y) * source.Width * RgbImage.BytesPerPixel);
            ref byte outputRow = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(output.Pixels), (nint)y * output.Width * RgbImage.BytesPerPixel);
            for (int x = 0; x < output.Width; x++)
            {
                int start = weights.Start[x], count = weights.Count[x];
                ReadOnlySpan<int> k = weights.Values.AsSpan(x * taps, count);
                var sum = rounding;
                for (int t = 0; t < k.Length; t++)
                    sum += WidenPixel(ref Unsafe.Add(ref sourceRow, (start + t) * RgbImage.BytesPerPixel)) * Vector128.Create(k[t]);
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref outputRow, x * RgbImage.BytesPerPixel), NarrowPixel(sum));
            }
        }
    }

    /// <summary>
    /// Each output row is a weighted sum of source rows: accumulated a whole row at a time (every byte of a row
    /// takes the same weight), 8 bytes per vector.
    /// </summary>
    private static void VerticalPass(RgbImage rows, int rowOffset, RgbImage output, AxisWeights weights)
    {
        int rowBytes = output.Width * RgbImage.BytesPerPixel;
        int taps = weights.Stride;
        var sums = new int[rowBytes];
        int vectorEnd = rowBytes - rowBytes % Vector256<int>.Count;
        for (int y = 0; y < output.Height; y++)
        {
            int start = weights.Start[y] - rowOffset, count = weights.Count[y];
            ReadOnlySpan<int> k = weights.Values.AsSpan(y * taps, count);
            Array.Fill(sums, Half);
            ref int sum0 = ref MemoryMarshal.GetArrayDataReference(sums);
            for (int t = 0; t < k.Length; t++)
            {
                ref byte row = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(rows.Pixels), (nint)(start + t) * rowBytes);
                var weight = Vector256.Create(k[t]);
                int i = 0;
                for (; i < vectorEnd; i += Vector256<int>.Count)
                {
                    var bytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref row, i))).AsByte();
                    var pixels = Vector256.WidenLower(Vector256.WidenLower(bytes.ToVector256Unsafe())).AsInt32();
                    ref int s = ref Unsafe.Add(ref sum0, i);
                    Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref s) + pixels * weight, ref s);
                }
                for (; i < rowBytes; i++) Unsafe.Add(ref sum0, i) += Unsafe.Add(ref row, i) * k[t];
            }
            ref byte outputRow = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(output.Pixels), (nint)y * rowBytes);
            for (int i = 0; i < rowBytes; i += RgbImage.BytesPerPixel)
            {
                var sum = Vector128.LoadUnsafe(ref Unsafe.Add(ref sum0, i));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref outputRow, i), NarrowPixel(sum));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> WidenPixel(ref byte pixel) =>
        Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(ref pixel)).AsByte())).AsInt32();

    /// <summary>The four sums of a pixel to bytes: shift out the fraction (floor), clip to 0..255; the unused byte is set to 255.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint NarrowPixel(Vector128<int> sum)
    {
        var clipped = Vector128.Min(Vector128.Max(sum >> PrecisionBits, Vector128<int>.Zero), Vector128.Create(255));
        var bytes = Vector128.Narrow(Vector128.Narrow(clipped, clipped), Vector128<short>.Zero).AsByte();
        return bytes.AsUInt32().ToScalar() | 0xFF000000u;
    }

    /// <summary>The fixed-point weights of one axis: for output index i, Count[i] taps from source index Start[i].</summary>
    internal sealed class AxisWeights
    {
        private AxisWeights(int[] start, int[] count, int[] values, int stride)
        {
            Start = start;
            Count = count;
            Values = values;
            Stride = stride;
        }

        public int[] Start { get; }
        public int[] Count { get; }
        /// <summary>[output index * Stride + tap], 22 fraction bits.</summary>
        public int[] Values { get; }
        public int Stride { get; }

        public static AxisWeights Compute(int inSize, int outSize, ResampleFilter filter)
        {
            double filterSupport = filter == ResampleFilter.Bicubic ? 2.0 : 1.0;
            double scale = (double)inSize / outSize;
            double stretch = Math.Max(scale, 1.0);
            double support = filterSupport * stretch;
            int stride = (int)Math.Ceiling(support) * 2 + 1;
            double inverseStretch = 1.0 / stretch;

            var start = new int[outSize];
            var count = new int[outSize];
            var values = new int[(long)outSize * stride];
            var weights = new double[stride];
            for (int i = 0; i < outSize; i++)
            {
                double centre = (i + 0.5) * scale;
                int first = Math.Max((int)(centre - support + 0.5), 0);
                int end = Math.Min((int)(centre + support + 0.5), inSize);
                int n = end - first;
                double total = 0.0;
                for (int t = 0; t < n; t++)
                {
                    double w = Kernel(filter, (t + first - centre + 0.5) * inverseStretch);
                    weights[t] = w;
                    total += w;
                }
                for (int t = 0; t < n; t++)
                {
                    double w = total != 0.0 ? weights[t] / total : weights[t];
                    values[(long)i * stride + t] = w < 0
                        ? (int)(-0.5 + w * (1 << PrecisionBits))
                        : (int)(0.5 + w * (1 << PrecisionBits));
                }
                start[i] = first;
                count[i] = n;
            }
            return new AxisWeights(start, count, values, stride);
        }

        /// <summary>The filter functions, each operation in the order that gives Pillow's doubles bit for bit.</summary>
        private static double Kernel(ResampleFilter filter, double x)
        {
            if (x < 0.0) x = -x;
            if (filter == ResampleFilter.Bilinear)
                return x < 1.0 ? 1.0 - x : 0.0;
            const double a = -0.5;
            if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
            return 0.0;
        }
    }
}
