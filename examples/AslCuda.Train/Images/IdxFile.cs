using System.Buffers.Binary;
using System.IO.Compression;

namespace AslCuda.Train.Images;

/// <summary>An unsigned-byte array read from an IDX file (the MNIST format): its dimensions and its values, row-major.</summary>
internal sealed record IdxArray(int[] Shape, byte[] Values)
{
    public int Count => Shape[0];

    /// <summary>Values per item: the product of all dimensions after the first.</summary>
    public int ItemLength => Shape.Skip(1).Aggregate(1, (a, b) => a * b);
}

/// <summary>
/// Reads IDX files: two zero bytes, a type byte (0x08, unsigned byte, the only type MNIST-style sets use),
/// a dimension count, the dimensions as big-endian int32, then the values. Gzip-compressed files (as Debian's
/// dataset-fashion-mnist ships them) are recognised by their magic number and decompressed on the fly.
/// </summary>
internal static class IdxFile
{
    private const byte UnsignedByte = 0x08;

    public static IdxArray Read(string path)
    {
        using var file = File.OpenRead(path);
        try
        {
            return Read(file);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads from a seekable stream (it looks at the first two bytes for gzip's magic number, then goes back).</summary>
    public static IdxArray Read(Stream stream)
    {
        if (!stream.CanSeek) throw new ArgumentException("the IDX reader needs a seekable stream.", nameof(stream));
        Span<byte> magic = stackalloc byte[2];
        int peeked = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Seek(-peeked, SeekOrigin.Current);
        Stream source = peeked == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true) : stream;

        Span<byte> header = stackalloc byte[4];
        ReadExactly(source, header, "the header");
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"not an IDX file (first bytes {header[0]:x2} {header[1]:x2}, expected 00 00)");
        if (header[2] != UnsignedByte)
            throw new InvalidDataException($"IDX value type 0x{header[2]:x2} is not supported, only 0x08 (unsigned byte)");
        int dimensions = header[3];
        if (dimensions == 0)
            throw new InvalidDataException("IDX file declares no dimensions");

        var shape = new int[dimensions];
        Span<byte> dimension = stackalloc byte[4];
        long length = 1;
        for (int d = 0; d < dimensions; d++)
        {
            ReadExactly(source, dimension, $"dimension {d}");
            shape[d] = BinaryPrimitives.ReadInt32BigEndian(dimension);
            if (shape[d] < 0) throw new InvalidDataException($"IDX dimension {d} is negative ({shape[d]})");
            length *= shape[d];
        }
        if (length > Array.MaxLength)
            throw new InvalidDataException($"IDX array of shape [{string.Join(", ", shape)}] is too large to load");

        var values = new byte[length];
        ReadExactly(source, values, $"{length} values of shape [{string.Join(", ", shape)}]");
        return new IdxArray(shape, values);
    }

    private static void ReadExactly(Stream source, Span<byte> buffer, string what)
    {
        try
        {
            source.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"IDX file ends before {what}");
        }
    }
}
