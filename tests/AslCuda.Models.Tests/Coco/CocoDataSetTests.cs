using System.Text;
using System.Text.Json;
using AslCuda.Models.Coco;
using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Coco;

public class CocoDataSetTests
{
    [Test]
    public void MiniSetFollowsValidatePyRules()
    {
        using var folder = new TempDirectory("minicoco");
        var layout = MiniCocoSet.Write(folder.Path);
        var data = CocoDataSet.Open(folder.Path);

        Assert.That(data.Categories, Is.EqualTo(CocoCategories.Coco80));
        Assert.That(data.ClassCount, Is.EqualTo(80));
        Assert.That(data.Samples.Select(s => s.ImageId), Is.EqualTo(layout.SampleImageIds), "order of each image's first annotation");
        Assert.That(data.ImagesWithoutAnnotations, Is.EqualTo(layout.UnannotatedImageIds.Length));
        Assert.That(data.MissingImages, Is.Empty);
        for (int i = 0; i < data.Samples.Count; i++)
        {
            var sample = data.Samples[i];
            Assert.That(sample.ClassIndices, Is.EqualTo(layout.SampleClasses[i]), $"sample {i}");
            var expected = new float[80];
            foreach (int k in layout.SampleClasses[i]) expected[k] = 1;
            Assert.That(sample.Targets, Is.EqualTo(expected), $"sample {i}");
            Assert.That(File.Exists(sample.Path), sample.Path);
            Assert.That(Path.GetDirectoryName(sample.Path), Is.EqualTo(Path.Combine(folder.Path, "val2014")));
        }
        // Spot checks of the mapping by position in "categories": id 1 -> 0, 13 -> 11 (after the gap at 12), 90 -> 79.
        var first = data.Samples[0];
        Assert.That(first.ImageId, Is.EqualTo(785));
        Assert.That(first.ClassIndices, Does.Contain(0).And.Contain(79));
        Assert.That(data.Samples[2].ClassIndices, Does.Contain(11), "image 872: crowd annotation of category 13 counts");
        int classesWithPositives = data.Samples.SelectMany(s => s.ClassIndices).Distinct().Count();
        Assert.That(classesWithPositives, Is.InRange(10, 79), "some classes have positives, most have none");
    }

    [Test]
    public void ListedButMissingImageIsReportedAndSkipped()
    {
        using var folder = new TempDirectory("minicoco-missing");
        var layout = MiniCocoSet.Write(folder.Path);
        var all = CocoDataSet.Open(folder.Path);
        File.Delete(all.Samples[1].Path);

        var data = CocoDataSet.Open(folder.Path);
        Assert.That(data.MissingImages, Has.Count.EqualTo(1));
        Assert.That(data.MissingImages[0].ImageId, Is.EqualTo(layout.SampleImageIds[1]));
        Assert.That(data.MissingImages[0].Path, Is.EqualTo(all.Samples[1].Path));
        Assert.That(data.Samples.Select(s => s.ImageId), Is.EqualTo(layout.SampleImageIds.Where((_, i) => i != 1)));
    }

    [Test]
    public void MissingFolderJsonOrImageFolderGiveErrorsNamingThePathAndTheLayout()
    {
        using var folder = new TempDirectory("minicoco-errors");
        string absent = Path.Combine(folder.Path, "nothing");
        Assert.That(Assert.Throws<DirectoryNotFoundException>(() => CocoDataSet.Open(absent))!.Message, Does.StartWith(absent + ": no such folder"));

        var noJson = Assert.Throws<FileNotFoundException>(() => CocoDataSet.Open(folder.Path))!;
        Assert.That(noJson.Message, Does.StartWith(Path.Combine(folder.Path, "annotations/instances_val2014.json") + ": no such file"));
        Assert.That(noJson.Message, Does.Contain("val2014/"));

        MiniCocoSet.Write(folder.Path);
        Directory.Delete(Path.Combine(folder.Path, "val2014"), recursive: true);
        var noImages = Assert.Throws<DirectoryNotFoundException>(() => CocoDataSet.Open(folder.Path))!;
        Assert.That(noImages.Message, Does.StartWith(Path.Combine(folder.Path, "val2014") + ": no such folder"));
    }

    [TestCase("""[1, 2]""", "the top level is a JSON array")]
    [TestCase("""{"images": [], "annotations": []}""", "no \"categories\" list")]
    [TestCase("""{"annotations": [], "categories": [{"id": 1, "name": "a"}]}""", "no \"images\" list")]
    [TestCase("""{"images": [], "categories": [{"id": 1, "name": "a"}]}""", "no \"annotations\" list")]
    [TestCase("""{"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}""", "images[0] has no \"file_name\"")]
    [TestCase("""{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1}], "categories": [{"id": 1, "name": "a"}]}""", "annotations[0] has no \"category_id\"")]
    [TestCase("""{"images": [{"id": "1", "file_name": "a.jpg"}], "annotations": [], "categories": []}""", "images[0].id is a JSON string")]
    [TestCase("""{"images": [], "annotations": [], "categories": [{"name": "a"}]}""", "categories[0] has no \"id\"")]
    [TestCase("""{"images": {}, "annotations": [], "categories": []}""", "\"images\" is a JSON object")]
    [TestCase("""{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 2, "category_id": 1}], "categories": [{"id": 1, "name": "a"}]}""", "annotations[0] refers to image id 2")]
    [TestCase("""{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "category_id": 7}], "categories": [{"id": 1, "name": "a"}]}""", "annotations[0] refers to category id 7")]
    [TestCase("""{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}""", "categories[1] repeats category id 1")]
    [TestCase("""{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}""", "images[1] repeats image id 1")]
    [TestCase("""{"images": [], "annotations": [], "categories": []}""", "\"categories\" list is empty")]
    [TestCase("""{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, """, "not valid JSON")]
    [TestCase("", "the file is empty")]
    public void JsonThatIsNotCocoNamesTheFileAndTheField(string json, string expected)
    {
        using var folder = new TempDirectory("notcoco");
        Directory.CreateDirectory(Path.Combine(folder.Path, "annotations"));
        Directory.CreateDirectory(Path.Combine(folder.Path, "val2014"));
        string file = Path.Combine(folder.Path, "annotations", "instances_val2014.json");
        File.WriteAllText(file, json);
        var e = Assert.Throws<InvalidDataException>(() => CocoDataSet.Open(folder.Path))!;
        Assert.That(e.Message, Does.StartWith(file + ": "));
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void ListAndFieldOrderDoNotMatterAndUnknownContentIsSkipped()
    {
        // Categories first, annotations before images, fields in any order, COCO's bulky fields (polygons, an RLE
        // crowd mask, nested info) in between, a multi-line layout: the result is the same as the plain file.
        const string json = """
            {
              "categories": [{"supercategory": "x", "name": "second", "id": 7}, {"id": 3, "name": "first", "extra": {"deep": [1, [2, {"x": 3}]]}}],
              "annotations": [
                {"segmentation": [[1.5, 2.5, 3.5, 4.5]], "bbox": [1, 2, 3, 4], "category_id": 3, "area": 12.5, "id": 1, "image_id": 20, "iscrowd": 0},
                {"segmentation": {"counts": [0, 5, 10, 5], "size": [4, 5]}, "image_id": 10, "iscrowd": 1, "category_id": 7, "id": 2},
                {"image_id": 20, "category_id": 7}
              ],
              "info": {"description": "a \"quoted\" \u00e9 text", "year": 2014},
              "images": [{"file_name": "b.png", "id": 10, "width": 3}, {"id": 20, "coco_url": "http://x/y", "file_name": "a.png"}, {"id": 30, "file_name": "c.png"}],
              "licenses": []
            }
            """;
        var instances = CocoInstances.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "test.json");
        Assert.That(instances.Categories, Is.EqualTo(new[] { new CocoCategory(7, "second"), new CocoCategory(3, "first") }));
        Assert.That(instances.Images, Is.EqualTo(new[] { new CocoImage(10, "b.png"), new CocoImage(20, "a.png"), new CocoImage(30, "c.png") }));
        Assert.That(instances.AnnotationImageIds, Is.EqualTo(new long[] { 20, 10, 20 }));
        Assert.That(instances.AnnotationCategoryIds, Is.EqualTo(new long[] { 3, 7, 7 }));

        using var folder = new TempDirectory("order");
        foreach (string name in new[] { "a.png", "b.png" }) ImageEncoder.Save(new RgbImage(2, 2), Path.Combine(folder.Path, name));
        var data = CocoDataSet.FromInstances(instances, "test.json", folder.Path);
        Assert.That(data.Samples.Select(s => s.ImageId), Is.EqualTo(new long[] { 20, 10 }));
        Assert.That(data.Samples[0].Targets, Is.EqualTo(new float[] { 1, 1 }), "class 0 = id 7 (first listed), class 1 = id 3");
        Assert.That(data.Samples[1].Targets, Is.EqualTo(new float[] { 1, 0 }));
        Assert.That(data.ImagesWithoutAnnotations, Is.EqualTo(1));
    }

    [Test]
    public void LargeJsonIsStreamedWithSmallMemoryAndTokensLongerThanTheBufferAreRead()
    {
        // ~13 MB: 8 000 annotations with 800-number polygons (COCO's bulk), and one 300 kB string token.
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("info", new string('x', 300_000));
            writer.WriteStartArray("images");
            for (int i = 0; i < 100; i++)
            {
                writer.WriteStartObject();
                writer.WriteNumber("id", i);
                writer.WriteString("file_name", $"{i}.jpg");
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartArray("annotations");
            for (int a = 0; a < 8_000; a++)
            {
                writer.WriteStartObject();
                writer.WriteStartArray("segmentation");
                writer.WriteStartArray();
                for (int p = 0; p < 800; p++) writer.WriteNumberValue(p * 0.25 + a);
                writer.WriteEndArray();
                writer.WriteEndArray();
                writer.WriteNumber("image_id", a % 100);
                writer.WriteNumber("category_id", 1 + a % 5);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartArray("categories");
            for (int k = 1; k <= 5; k++)
            {
                writer.WriteStartObject();
                writer.WriteNumber("id", k);
                writer.WriteString("name", $"c{k}");
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        stream.Position = 0;
        Assert.That(stream.Length, Is.GreaterThan(10_000_000));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var instances = CocoInstances.Read(stream, "large.json");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(instances.AnnotationImageIds, Has.Count.EqualTo(8_000));
        Assert.That(instances.Categories, Has.Count.EqualTo(5));
        // The buffer grows to hold the longest token (the 300 kB string: to 512 kB, about 1 MB allocated on the way)
        // and the id lists grow; nothing scales with the skipped polygons.
        TestContext.Out.WriteLine($"allocated {allocated} bytes to read {stream.Length}");
        Assert.That(allocated, Is.LessThan(2_500_000), $"allocated {allocated} bytes to read {stream.Length}");
    }
}
