namespace AslCuda.Models.Images;

/// <summary>
/// Whether a JPEG file reaches its end-of-image marker. Pillow refuses a JPEG that ends before it ("image file
/// is truncated"), even when only the last two bytes are missing; SkiaSharp fills a truncated progressive JPEG
/// with what its first scans gave and reports success. Walking the marker segments (and the entropy-coded data
/// after each start-of-scan) up to EOI gives Pillow's rule. Bytes after EOI are allowed, as in Pillow.
/// </summary>
internal static class JpegMarkers
{
    private const byte Prefix = 0xFF;
    private const byte StartOfImage = 0xD8;
    private const byte EndOfImage = 0xD9;
    private const byte StartOfScan = 0xDA;

    /// <summary>True when the data starts with a JPEG start-of-image marker.</summary>
    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == Prefix && data[1] == StartOfImage && data[2] == Prefix;

    /// <summary>True when the segments can be followed from SOI to an EOI marker within the data.</summary>
    public static bool ReachesEndOfImage(ReadOnlySpan<byte> data)
    {
        int position = 2;
        while (true)
        {
            // Between segments libjpeg skips stray bytes up to the next 0xFF, and 0xFF fill bytes before a marker code.
            while (position < data.Length && data[position] != Prefix) position++;
            while (position < data.Length && data[position] == Prefix) position++;
            if (position >= data.Length) return false;
            byte marker = data[position++];
            if (marker == EndOfImage) return true;
            if (IsStandalone(marker)) continue;
            if (position + 2 > data.Length) return false;
            int length = (data[position] << 8) | data[position + 1];
            if (length < 2) return false;
            position += length;
            if (position > data.Length) return false;
            if (marker == StartOfScan) position = SkipEntropyCodedData(data, position);
        }
    }

    /// <summary>Markers without a length field: TEM, and the restart markers RST0..RST7.</summary>
    private static bool IsStandalone(byte marker) => marker == 0x01 || marker is >= 0xD0 and <= 0xD7;

    /// <summary>The position of the first marker after a scan's data (0xFF 0x00 is a stuffed data byte; restart markers belong to the scan).</summary>
    private static int SkipEntropyCodedData(ReadOnlySpan<byte> data, int position)
    {
        while (position < data.Length)
        {
            int next = data[position..].IndexOf(Prefix);
            if (next < 0) return data.Length;
            position += next;
            int code = position + 1;
            while (code < data.Length && data[code] == Prefix) code++;
            if (code >= data.Length) return data.Length;
            if (data[code] == 0x00 || data[code] is >= 0xD0 and <= 0xD7)
            {
                position = code + 1;
                continue;
            }
            return position;
        }
        return position;
    }
}
