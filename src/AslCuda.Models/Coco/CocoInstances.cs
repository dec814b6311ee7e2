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
    /// <summary>The field names of COCO's instances files, recognised without allocating a string each time.</summary>
    private static readonly string[] KnownNames =
    [
        "images", "annotations", "categories", "info", "licenses", "id", "file_name", "width", "height", "license",
        "coco_url", "flickr_url", "date_captured", "image_id", "category_id", "segmentation", "area", "bbox",
        "iscrowd", "name", "supercategory", "counts", "size",
    ];

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
        var json = new JsonTokenStream(stream, name, KnownNames);
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
                    categories = [];
                    ReadList(json, "categories", index => categories.Add(ReadCategory(json, index, name)));
                    break;
                case "images":
                    images = [];
                    ReadList(json, "images", index => images.Add(ReadImage(json, index, name)));
                    break;
                case "annotations":
                    annotationImages = [];
                    annotationCategories = [];
                    ReadList(json, "annotations", index =>
                    {
                        var (image, category) = ReadAnnotation(json, index, name);
                        annotationImages.Add(image);
                        annotationCategories.Add(category);
                    });
                    break;
                default:
                    json.SkipNextValue();
                    break;
            }
        }

        string? missing = images is null ? "images" : annotationImages is null ? "annotations" : categories is null ? "categories" : null;
        if (missing is not null)
            throw new InvalidDataException($"{name}: not a COCO instances file: it has no \"{missing}\" list (a COCO instances json has \"images\", \"annotations\" and \"categories\").");
        return new CocoInstances(categories!, images!, [.. annotationImages!], [.. annotationCategories!]);
    }

    /// <summary>Reads a list of objects, calling <paramref name="readItem"/> with each item's index once its start token is read.</summary>
    private static void ReadList(JsonTokenStream json, string list, Action<int> readItem)
    {
        json.Expect(JsonTokenType.StartArray, $"\"{list}\"");
        int index = 0;
        while (json.Read() && json.TokenType != JsonTokenType.EndArray)
        {
            if (json.TokenType != JsonTokenType.StartObject) throw json.Unexpected($"{list}[{index}]", "an object");
            readItem(index++);
        }
    }

    // The readers below walk one object's fields: the wanted ones are read, the rest skipped. Names for messages
    // are built only when there is an error (the real file has 300 000 annotations).

    private static CocoCategory ReadCategory(JsonTokenStream json, int index, string name)
    {
        long? id = null;
        string? categoryName = null;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            switch (json.String)
            {
                case "id": id = ReadId(json, "categories", index, "id"); break;
                case "name": categoryName = ReadString(json, "categories", index, "name"); break;
                default: json.SkipNextValue(); break;
            }
        }
        if (id is null) throw Missing(name, "categories", index, "id");
        if (categoryName is null) throw Missing(name, "categories", index, "name");
        return new CocoCategory(id.Value, categoryName);
    }

    private static CocoImage ReadImage(JsonTokenStream json, int index, string name)
    {
        long? id = null;
        string? fileName = null;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            switch (json.String)
            {
                case "id": id = ReadId(json, "images", index, "id"); break;
                case "file_name": fileName = ReadString(json, "images", index, "file_name"); break;
                default: json.SkipNextValue(); break;
            }
        }
        if (id is null) throw Missing(name, "images", index, "id");
        if (fileName is null) throw Missing(name, "images", index, "file_name");
        return new CocoImage(id.Value, fileName);
    }

    private static (long Image, long Category) ReadAnnotation(JsonTokenStream json, int index, string name)
    {
        long? image = null, category = null;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            switch (json.String)
            {
                case "image_id": image = ReadId(json, "annotations", index, "image_id"); break;
                case "category_id": category = ReadId(json, "annotations", index, "category_id"); break;
                default: json.SkipNextValue(); break;
            }
        }
        if (image is null) throw Missing(name, "annotations", index, "image_id");
        if (category is null) throw Missing(name, "annotations", index, "category_id");
        return (image.Value, category.Value);
    }

    private static long ReadId(JsonTokenStream json, string list, int index, string field)
    {
        if (!json.Read() || json.TokenType != JsonTokenType.Number || json.Integer is not { } id)
            throw json.Unexpected($"{list}[{index}].{field}", "an integer id");
        return id;
    }

    private static string ReadString(JsonTokenStream json, string list, int index, string field)
    {
        if (!json.Read() || json.TokenType != JsonTokenType.String) throw json.Unexpected($"{list}[{index}].{field}", "a string");
        return json.String!;
    }

    private static InvalidDataException Missing(string name, string list, int index, string field) =>
        new($"{name}: not a COCO instances file: {list}[{index}] has no \"{field}\".");
}
