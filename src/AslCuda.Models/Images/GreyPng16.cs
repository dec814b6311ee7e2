using System.Buffers.Binary;
using System.IO.Compression;

namespace AslCuda.Models.Images;

/// <summary>
/// Reads 16-bit greyscale PNGs, the one kind where Pillow and SkiaSharp disagree. Pillow opens them as 32-bit
/// integer pictures (mode "I") holding the 16-bit values, and its conversion to RGB clips those to 0..255: a value
/// of 300 becomes 255, a value of 20 stays 20 (not 20 / 257). SkiaSharp keeps only the high byte. So these files
/// are decoded here (chunks, CRC, zlib, the five row filters, Adam7 interlacing) to give Pillow's pixels.
/// </summary>
internal static class GreyPng16
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>True when <paramref name="data"/> starts like a PNG whose header says greyscale (colour type 0), 16 bits.</summary>
    public static bool Matches(ReadOnlySpan<byte> data) =>
        data.Length >= 26 && data[..8].SequenceEqual(Signature) && data.Slice(12, 4).SequenceEqual("IHDR"u8) &&
        data[24] == 16 && data[25] == 0;

    /// <summary>Decodes the picture; <paramref name="name"/> names the file in errors.</summary>
    public static RgbImage Decode(ReadOnlySpan<byte> data, string name)
    {
        int position = Signature.Length;
        int width = 0, height = 0;
        bool interlaced = false, sawHeader = false, sawEnd = false;
        using var compressed = new MemoryStream();
        // Like Pillow, a file may end early as long as the pixel data it holds is complete: a cut inside the
        // last IDAT (its CRC, zlib's checksum) or a missing IEND is tolerated; missing pixel rows are not.
        while (!sawEnd && position + 8 <= data.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(data[position..]);
            var type = data.Slice(position + 4, 4);
            if (length < 0) throw Broken(name, "a chunk has a negative length");
            if (position + 12L + length > data.Length)
            {
                if (type.SequenceEqual("IDAT"u8)) compressed.Write(data[(position + 8)..][..Math.Min(length, data.Length - position - 8)]);
                break;
            }
            var body = data.Slice(position + 8, length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(position + 8 + length)..]);
            if (Crc32(data.Slice(position + 4, 4 + length)) != stored)
                throw Broken(name, $"chunk {System.Text.Encoding.ASCII.GetString(type)} has a wrong CRC");
            if (type.SequenceEqual("IHDR"u8))
            {
                if (length != 13) throw Broken(name, "its IHDR chunk is not 13 bytes");
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                if (width <= 0 || height <= 0) throw Broken(name, $"its size is {width} x {height}");
                if (body[10] != 0 || body[11] != 0) throw Broken(name, "unknown compression or filter method");
                if (body[12] > 1) throw Broken(name, $"unknown interlace method {body[12]}");
                interlaced = body[12] == 1;
                sawHeader = true;
            }
            else if (type.SequenceEqual("IDAT"u8))
            {
                compressed.Write(body);
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                sawEnd = true;
            }
            position += 12 + length;
        }
        if (!sawHeader) throw Broken(name, "no IHDR chunk");

        var image = new RgbImage(width, height);
        compressed.Position = 0;
        using var inflated = new ZLibStream(compressed, CompressionMode.Decompress);
        try
        {
            if (!interlaced)
            {
                ReadPass(inflated, image, 0, 0, 1, 1, name);
            }
            else
            {
                ReadOnlySpan<(int X, int Y, int StepX, int StepY)> passes =
                    [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
                foreach (var (x, y, stepX, stepY) in passes)
                    ReadPass(inflated, image, x, y, stepX, stepY, name);
            }
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(name, StringComparison.Ordinal))
        {
            throw Broken(name, "its compressed data is corrupt (" + e.Message + ")");
        }
        return image;
    }

    /// <summary>One (sub-)image: rows of a filter byte and 2 bytes per pixel, unfiltered, clipped to 0..255 like Pillow's I -> RGB.</summary>
    private static void ReadPass(Stream inflated, RgbImage image, int x0, int y0, int stepX, int stepY, string name)
    {
        int columns = (image.Width - x0 + stepX - 1) / stepX;
        int rows = (image.Height - y0 + stepY - 1) / stepY;
        if (columns <= 0 || rows <= 0) return;
        const int pixelBytes = 2;
        int rowBytes = columns * pixelBytes;
        var previous = new byte[rowBytes];
        var current = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            int filter = inflated.ReadByte();
            if (filter < 0) throw Broken(name, "its pixel data ends early (truncated)");
            try
            {
                inflated.ReadExactly(current);
            }
            catch (EndOfStreamException)
            {
                throw Broken(name, "its pixel data ends early (truncated)");
            }
            Unfilter(filter, current, previous, pixelBytes, name);
            int y = y0 + r * stepY;
            for (int c = 0; c < columns; c++)
            {
                int value = (current[2 * c] << 8) | current[2 * c + 1];
                byte clipped = (byte)Math.Min(value, 255);
                long i = ((long)y * image.Width + x0 + c * stepX) * RgbImage.BytesPerPixel;
                image.Pixels[i] = clipped;
                image.Pixels[i + 1] = clipped;
                image.Pixels[i + 2] = clipped;
            }
            (previous, current) = (current, previous);
        }
    }

    private static void Unfilter(int filter, Span<byte> row, ReadOnlySpan<byte> above, int bpp, string name)
    {
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (int i = bpp; i < row.Length; i++) row[i] += row[i - bpp];
                break;
            case 2:
                for (int i = 0; i < row.Length; i++) row[i] += above[i];
                break;
            case 3:
                for (int i = 0; i < row.Length; i++)
                    row[i] += (byte)(((i >= bpp ? row[i - bpp] : 0) + above[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < row.Length; i++)
                    row[i] += Paeth(i >= bpp ? row[i - bpp] : (byte)0, above[i], i >= bpp ? above[i - bpp] : (byte)0);
                break;
            default:
                throw Broken(name, $"unknown row filter {filter}");
        }
    }

    /// <summary>The PNG specification's Paeth predictor: the neighbour closest to left + above - upper-left.</summary>
    private static byte Paeth(byte left, byte above, byte upperLeft)
    {
        int estimate = left + above - upperLeft;
        int toLeft = Math.Abs(estimate - left), toAbove = Math.Abs(estimate - above), toUpperLeft = Math.Abs(estimate - upperLeft);
        if (toLeft <= toAbove && toLeft <= toUpperLeft) return left;
        return toAbove <= toUpperLeft ? above : upperLeft;
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>The CRC-32 (ISO 3309 polynomial) that PNG stores over each chunk's type and data.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in bytes) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    private static InvalidDataException Broken(string name, string what) =>
        new($"{name}: not a readable 16-bit greyscale PNG: {what}.");
}
