using System.Text.Json;
using AslCuda.Models.Images;

namespace AslCuda.Models.Coco;

/// <summary>A picture to write into a COCO-layout data set.</summary>
/// <param name="Id">Its image id.</param>
/// <param name="FileName">Its file name inside the image folder (the extension does not choose the format).</param>
/// <param name="Picture">Its pixels.</param>
/// <param name="Format">How it is encoded.</param>
/// <param name="JpegQuality">JPEG quality when <paramref name="Format"/> is JPEG.</param>
public sealed record CocoLayoutImage(long Id, string FileName, RgbImage Picture, ImageFileFormat Format = ImageFileFormat.Png, int JpegQuality = 95);

/// <summary>An object annotation: the category of one object on one image, with its box.</summary>
/// <param name="ImageId">The image it is on.</param>
/// <param name="CategoryId">Its category id.</param>
/// <param name="X">Box left, in pixels.</param>
/// <param name="Y">Box top, in pixels.</param>
/// <param name="Width">Box width.</param>
/// <param name="Height">Box height.</param>
/// <param name="Crowd">COCO's <c>iscrowd</c> flag.</param>
public sealed record CocoLayoutAnnotation(long ImageId, long CategoryId, double X, double Y, double Width, double Height, bool Crowd = false);

/// <summary>
/// Writes a data set in the COCO validation layout that <see cref="CocoDataSet"/> and the official validate.py
/// read: the pictures into <c>DATA/val2014/</c> and <c>DATA/annotations/instances_val2014.json</c> with
/// <c>images</c> (id, file_name, width, height), <c>annotations</c> (id, image_id, category_id, bbox, area =
/// box area, iscrowd, an empty segmentation) and <c>categories</c> (id, name, supercategory) in the given orders.
/// </summary>
public static class CocoLayoutWriter
{
    /// <summary>Writes the data set into <paramref name="dataFolder"/> (created if needed; existing files of the same names are replaced).</summary>
    public static void Write(string dataFolder, IReadOnlyList<CocoCategory> categories, IReadOnlyList<CocoLayoutImage> images,
        IReadOnlyList<CocoLayoutAnnotation> annotations)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataFolder);
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(annotations);
        var imageIds = images.Select(i => i.Id).ToHashSet();
        var categoryIds = categories.Select(c => c.Id).ToHashSet();
        if (imageIds.Count != images.Count) throw new ArgumentException("two images have the same id.", nameof(images));
        if (categoryIds.Count != categories.Count) throw new ArgumentException("two categories have the same id.", nameof(categories));
        for (int a = 0; a < annotations.Count; a++)
        {
            if (!imageIds.Contains(annotations[a].ImageId))
                throw new ArgumentException($"annotations[{a}] is on image {annotations[a].ImageId}, which is not among the images.", nameof(annotations));
            if (!categoryIds.Contains(annotations[a].CategoryId))
                throw new ArgumentException($"annotations[{a}] has category {annotations[a].CategoryId}, which is not among the categories.", nameof(annotations));
        }

        string imageFolder = Path.Combine(dataFolder, CocoDataSet.DefaultImageFolder);
        string annotationFile = Path.Combine(dataFolder, CocoDataSet.DefaultAnnotationFile);
        Directory.CreateDirectory(imageFolder);
        Directory.CreateDirectory(Path.GetDirectoryName(annotationFile)!);
        foreach (var image in images)
            ImageEncoder.Save(image.Picture, Path.Combine(imageFolder, image.FileName), image.Format, image.JpegQuality);

        using var file = File.Create(annotationFile);
        using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("info");
        json.WriteString("description", "COCO-layout data set written by AslCuda.Models");
        json.WriteEndObject();
        json.WriteStartArray("images");
        foreach (var image in images)
        {
            json.WriteStartObject();
            json.WriteNumber("id", image.Id);
            json.WriteString("file_name", image.FileName);
            json.WriteNumber("width", image.Picture.Width);
            json.WriteNumber("height", image.Picture.Height);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("annotations");
        for (int a = 0; a < annotations.Count; a++)
        {
            var annotation = annotations[a];
            json.WriteStartObject();
            json.WriteNumber("id", a + 1);
            json.WriteNumber("image_id", annotation.ImageId);
            json.WriteNumber("category_id", annotation.CategoryId);
            json.WriteStartArray("segmentation");
            json.WriteEndArray();
            json.WriteNumber("area", annotation.Width * annotation.Height);
            json.WriteStartArray("bbox");
            json.WriteNumberValue(annotation.X);
            json.WriteNumberValue(annotation.Y);
            json.WriteNumberValue(annotation.Width);
            json.WriteNumberValue(annotation.Height);
            json.WriteEndArray();
            json.WriteNumber("iscrowd", annotation.Crowd ? 1 : 0);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("categories");
        foreach (var category in categories)
        {
            json.WriteStartObject();
            json.WriteNumber("id", category.Id);
            json.WriteString("name", category.Name);
            json.WriteString("supercategory", "object");
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
