using System.Text.Json;

namespace AslCuda.Models.Coco;

/// <summary>A COCO category: its id in the json and its name.</summary>
/// <param name="Id">The category id (COCO: 1 to 90 with gaps).</param>
/// <param name="Name">The category name.</param>
public sealed record CocoCategory(long Id, string Name);

/// <summary>An entry of the json's <c>images</c> list.</summary>
/// <param name="Id">The image id.</param>
/// <param name="FileName">The file name relative to the image folder.</param>
public sealed record CocoImage(long Id, string FileName);

/// <summary>
/// The parts of a COCO instances file (<c>instances_val2014.json</c>) that multi-label validation reads: the
/// <c>categories</c> list in file order, the <c>images</c> list, and each annotation's image and category ids in
/// file order. Everything else (segmentations, boxes, areas, crowd flags, info, licenses) is skipped while
/// streaming, so the real 80 MB file is read with a small buffer. Objects may list their fields in any order and
/// the three lists may come in any order.
/// </summary>
public sealed class CocoInstances
{
    private CocoInstances(IReadOnlyList<CocoCategory> categories, IReadOnlyList<CocoImage> images,
        long[] annotationImageIds, long[] annotationCategoryIds)
    {
        Categories = categories;
        Images = images;
        AnnotationImageIds = annotationImageIds;
        AnnotationCategoryIds = annotationCategoryIds;
    }

    /// <summary>The categories in file order.</summary>
    public IReadOnlyList<CocoCategory> Categories { get; }

    /// <summary>The images in file order.</summary>
    public IReadOnlyList<CocoImage> Images { get; }

    /// <summary>Image id of each annotation, in file order.</summary>
    public IReadOnlyList<long> AnnotationImageIds { get; }

    /// <summary>Category id of each annotation, in file order.</summary>
    public IReadOnlyList<long> AnnotationCategoryIds { get; }

    /// <summary>Reads the instances file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not JSON, or not a COCO instances file: the message names the file and the missing or wrong field.</exception>
    public static CocoInstances Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        return Read(stream, path);
    }

    /// <summary>Reads an instances file from <paramref name="stream"/>; <paramref name="name"/> names it in messages.</summary>
    public static CocoInstances Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var json = new JsonTokenStream(stream, name);
        if (!json.Read()) throw new InvalidDataException($"{name}: the file is empty, not a COCO instances file.");
        if (json.TokenType != JsonTokenType.StartObject) throw json.Unexpected("the top level", "an object with images, annotations and categories");

        List<CocoCategory>? categories = null;
        List<CocoImage>? images = null;
        List<long>? annotationImages = null, annotationCategories = null;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            switch (json.String)
            {
                case "categories":
                    categories = ReadList(json, "categories", (j, at) => ReadCategory(j, at, name));
                    break;
                case "images":
                    images = ReadList(json, "images", (j, at) => ReadImage(j, at, name));
                    break;
                case "annotations":
                    annotationImages = [];
                    annotationCategories = [];
                    ReadList(json, "annotations", (j, at) =>
                    {
                        var (image, category) = ReadAnnotation(j, at, name);
                        annotationImages.Add(image);
                        annotationCategories.Add(category);
                        return 0;
                    });
                    break;
                default:
                    json.Read();
                    json.SkipValue();
                    break;
            }
        }

        string? missing = images is null ? "images" : annotationImages is null ? "annotations" : categories is null ? "categories" : null;
        if (missing is not null)
            throw new InvalidDataException($"{name}: not a COCO instances file: it has no \"{missing}\" list (a COCO instances json has \"images\", \"annotations\" and \"categories\").");
        return new CocoInstances(categories!, images!, [.. annotationImages!], [.. annotationCategories!]);
    }

    private static List<T> ReadList<T>(JsonTokenStream json, string list, Func<JsonTokenStream, string, T> readItem)
    {
        json.Expect(JsonTokenType.StartArray, $"\"{list}\"");
        var items = new List<T>();
        while (json.Read() && json.TokenType != JsonTokenType.EndArray)
        {
            string at = $"{list}[{items.Count}]";
            if (json.TokenType != JsonTokenType.StartObject) throw json.Unexpected(at, "an object");
            items.Add(readItem(json, at));
        }
        return items;
    }

    private static CocoCategory ReadCategory(JsonTokenStream json, string at, string name)
    {
        long? id = null;
        string? categoryName = null;
        ReadFields(json, field =>
        {
            if (field == "id") id = ReadId(json, $"{at}.id");
            else if (field == "name") categoryName = ReadString(json, $"{at}.name");
            else return false;
            return true;
        });
        if (id is null) throw Missing(name, at, "id");
        if (categoryName is null) throw Missing(name, at, "name");
        return new CocoCategory(id.Value, categoryName);
    }

    private static CocoImage ReadImage(JsonTokenStream json, string at, string name)
    {
        long? id = null;
        string? fileName = null;
        ReadFields(json, field =>
        {
            if (field == "id") id = ReadId(json, $"{at}.id");
            else if (field == "file_name") fileName = ReadString(json, $"{at}.file_name");
            else return false;
            return true;
        });
        if (id is null) throw Missing(name, at, "id");
        if (fileName is null) throw Missing(name, at, "file_name");
        return new CocoImage(id.Value, fileName);
    }

    private static (long Image, long Category) ReadAnnotation(JsonTokenStream json, string at, string name)
    {
        long? image = null, category = null;
        ReadFields(json, field =>
        {
            if (field == "image_id") image = ReadId(json, $"{at}.image_id");
            else if (field == "category_id") category = ReadId(json, $"{at}.category_id");
            else return false;
            return true;
        });
        if (image is null) throw Missing(name, at, "image_id");
        if (category is null) throw Missing(name, at, "category_id");
        return (image.Value, category.Value);
    }

    /// <summary>Walks an object's fields; <paramref name="readField"/> reads the value of a field it wants and returns true, the rest are skipped.</summary>
    private static void ReadFields(JsonTokenStream json, Func<string, bool> readField)
    {
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            if (readField(json.String!)) continue;
            json.Read();
            json.SkipValue();
        }
    }

    private static long ReadId(JsonTokenStream json, string what)
    {
        if (!json.Read() || json.TokenType != JsonTokenType.Number || json.Integer is not { } id) throw json.Unexpected(what, "an integer id");
        return id;
    }

    private static string ReadString(JsonTokenStream json, string what)
    {
        if (!json.Read() || json.TokenType != JsonTokenType.String) throw json.Unexpected(what, "a string");
        return json.String!;
    }

    private static InvalidDataException Missing(string name, string at, string field) =>
        new($"{name}: not a COCO instances file: {at} has no \"{field}\".");
}
