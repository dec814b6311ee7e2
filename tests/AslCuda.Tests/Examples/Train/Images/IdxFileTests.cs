using System.IO.Compression;
using AslCuda.Train.Images;

namespace AslCuda.Tests.Examples.Train.Images;

public class IdxFileTests
{
    /// <summary>An IDX file of unsigned bytes: 00 00 08 dims, big-endian dimensions, then the values.</summary>
    private static byte[] Idx(int[] shape, byte[] values, byte type = 0x08)
    {
        var bytes = new List<byte> { 0, 0, type, (byte)shape.Length };
        foreach (int dimension in shape)
            bytes.AddRange([(byte)(dimension >> 24), (byte)(dimension >> 16), (byte)(dimension >> 8), (byte)dimension]);
        bytes.AddRange(values);
        return [.. bytes];
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    // 300 items make a dimension whose big-endian bytes are not all in the last byte (00 00 01 2c).
    private static readonly byte[] Values = Enumerable.Range(0, 300 * 2 * 3).Select(i => (byte)(i * 7 % 256)).ToArray();

    [Test]
    public void ReadsShapeAndValuesOfAnUncompressedFile()
    {
        var array = IdxFile.Read(new MemoryStream(Idx([300, 2, 3], Values)));
        Assert.That(array.Shape, Is.EqualTo(new[] { 300, 2, 3 }));
        Assert.That(array.Count, Is.EqualTo(300));
        Assert.That(array.ItemLength, Is.EqualTo(6));
        Assert.That(array.Values, Is.EqualTo(Values));
    }

    [Test]
    public void ReadsAGzipCompressedFileAsDebianShipsIt()
    {
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"idx-test-{Guid.NewGuid():N}.gz");
        File.WriteAllBytes(path, Gzip(Idx([300, 2, 3], Values)));
        try
        {
            var array = IdxFile.Read(path);
            Assert.That(array.Shape, Is.EqualTo(new[] { 300, 2, 3 }));
            Assert.That(array.Values, Is.EqualTo(Values));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ReadsALabelsFileWithOneDimension()
    {
        var array = IdxFile.Read(new MemoryStream(Idx([5], [9, 0, 3, 3, 1])));
        Assert.That(array.Shape, Is.EqualTo(new[] { 5 }));
        Assert.That(array.ItemLength, Is.EqualTo(1));
        Assert.That(array.Values, Is.EqualTo(new byte[] { 9, 0, 3, 3, 1 }));
    }

    [Test]
    public void RejectsAFileThatEndsBeforeItsValues()
    {
        var truncated = Idx([300, 2, 3], Values)[..^1];
        Assert.That(() => IdxFile.Read(new MemoryStream(truncated)),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("ends before 1800 values"));
        Assert.That(() => IdxFile.Read(new MemoryStream(Gzip(truncated))),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("ends before 1800 values"));
    }

    [Test]
    public void RejectsOtherValueTypesAndOtherFormats()
    {
        Assert.That(() => IdxFile.Read(new MemoryStream(Idx([2], [0, 0, 0, 0, 0, 0, 0, 0], type: 0x0D))),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("0x0d"));
        Assert.That(() => IdxFile.Read(new MemoryStream("P5 28 28 255\n"u8.ToArray())),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("not an IDX file"));
        Assert.That(() => IdxFile.Read(new MemoryStream([0, 0])),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("ends before the header"));
    }

    [Test]
    public void PairsImagesWithLabelsOnlyWhenTheyDescribeTheSameItems()
    {
        var images = new IdxArray([3, 2, 2], new byte[12]);
        var pair = LabelledImages.FromIdx(images, new IdxArray([3], [1, 2, 3]), "test");
        Assert.That(pair.Count, Is.EqualTo(3));
        Assert.That(pair.Side, Is.EqualTo(2));
        Assert.That(() => LabelledImages.FromIdx(images, new IdxArray([2], [1, 2]), "test"),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("2 labels"));
        Assert.That(() => LabelledImages.FromIdx(new IdxArray([3, 2, 4], new byte[24]), new IdxArray([3], [1, 2, 3]), "test"),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("expected [count, side, side]"));
    }
}
