using AslCuda.Models.Images;

namespace AslCuda.Models.Coco;

/// <summary>One validation sample: an image with at least one annotation and its multi-hot target.</summary>
/// <param name="ImageId">The image id in the json.</param>
/// <param name="Path">The picture file: the image folder joined with the json's <c>file_name</c>.</param>
/// <param name="ClassIndices">The classes annotated on the image, ascending, each once.</param>
/// <param name="Targets">Multi-hot target over all classes: 1 for each class in <paramref name="ClassIndices"/>, else 0.</param>
public sealed record CocoSample(long ImageId, string Path, IReadOnlyList<int> ClassIndices, float[] Targets);

/// <summary>An image that has annotations but whose file is not in the image folder; it is left out of the samples.</summary>
/// <param name="ImageId">The image id in the json.</param>
/// <param name="Path">Where the file was expected.</param>
public sealed record CocoMissingImage(long ImageId, string Path);

/// <summary>
/// A data set in the COCO layout that validate.py reads: <c>DATA/annotations/instances_val2014.json</c> and the
/// pictures in <c>DATA/val2014/</c>, with validate.py's rules (TRESNET.md 3.2): the samples are the images with at
/// least one annotation, in the order in which each image's first annotation appears in the json (pycocotools'
/// <c>imgToAnns</c> order); the class index of a category is its position in the json's <c>categories</c> list;
/// a sample's target is 1 for the class of every annotation on it, crowd annotations included and whatever the
/// area. Images without annotations are not samples. An annotated image whose file is missing is reported in
/// <see cref="MissingImages"/> and left out, not fatal.
/// </summary>
public sealed class CocoDataSet
{
    /// <summary>The annotation file under the data folder, as validate.py hard-wires it.</summary>
    public const string DefaultAnnotationFile = "annotations/instances_val2014.json";

    /// <summary>The image folder under the data folder, as validate.py hard-wires it.</summary>
    public const string DefaultImageFolder = "val2014";

    private CocoDataSet(string annotationFile, string imageFolder, IReadOnlyList<CocoCategory> categories,
        IReadOnlyList<CocoSample> samples, IReadOnlyList<CocoMissingImage> missing, int unannotated)
    {
        AnnotationFile = annotationFile;
        ImageFolder = imageFolder;
        Categories = categories;
        Samples = samples;
        MissingImages = missing;
        ImagesWithoutAnnotations = unannotated;
    }

    /// <summary>The instances json that was read.</summary>
    public string AnnotationFile { get; }

    /// <summary>The folder the pictures are read from.</summary>
    public string ImageFolder { get; }

    /// <summary>The categories in json order: class index k is <c>Categories[k]</c>.</summary>
    public IReadOnlyList<CocoCategory> Categories { get; }

    /// <summary>Number of classes (the length of every target).</summary>
    public int ClassCount => Categories.Count;

    /// <summary>The samples whose files exist, in validate.py's order.</summary>
    public IReadOnlyList<CocoSample> Samples { get; }

    /// <summary>Annotated images whose files are missing (not in <see cref="Samples"/>).</summary>
    public IReadOnlyList<CocoMissingImage> MissingImages { get; }

    /// <summary>Images listed in the json without any annotation (not samples, as in validate.py).</summary>
    public int ImagesWithoutAnnotations { get; }

    /// <summary>The class names in class-index order.</summary>
    public IReadOnlyList<string> ClassNames => Categories.Select(c => c.Name).ToArray();

    /// <summary>The samples as loader items (path and multi-hot target), for <see cref="ImageBatchLoader"/>.</summary>
    public IReadOnlyList<ImageItem> ToImageItems() => Samples.Select(s => new ImageItem(s.Path, s.Targets)).ToArray();

    /// <summary>Opens <paramref name="dataFolder"/> in the COCO validation layout.</summary>
    /// <exception cref="DirectoryNotFoundException">The data folder or its image folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The annotation file does not exist.</exception>
    /// <exception cref="InvalidDataException">The json is not a COCO instances file, or its annotations name unknown images or categories.</exception>
    public static CocoDataSet Open(string dataFolder, string annotationFile = DefaultAnnotationFile, string imageFolder = DefaultImageFolder)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataFolder);
        if (!Directory.Exists(dataFolder))
            throw new DirectoryNotFoundException($"{dataFolder}: no such folder. The data folder holds {DefaultAnnotationFile} and {DefaultImageFolder}/ (the COCO 2014 validation layout).");
        string json = Path.Combine(dataFolder, annotationFile);
        if (!File.Exists(json))
            throw new FileNotFoundException($"{json}: no such file. The data folder {dataFolder} must hold {annotationFile} (COCO's instances_val2014.json from annotations_trainval2014.zip) and the pictures in {imageFolder}/.", json);
        string images = Path.Combine(dataFolder, imageFolder);
        if (!Directory.Exists(images))
            throw new DirectoryNotFoundException($"{images}: no such folder. The data folder {dataFolder} must hold the pictures in {imageFolder}/ (COCO's val2014.zip) beside {annotationFile}.");
        return FromInstances(CocoInstances.Read(json), json, images);
    }

    /// <summary>Applies validate.py's rules to parsed instances, with pictures under <paramref name="imageFolder"/>.</summary>
    public static CocoDataSet FromInstances(CocoInstances instances, string annotationFile, string imageFolder)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var classOf = new Dictionary<long, int>();
        for (int k = 0; k < instances.Categories.Count; k++)
        {
            long id = instances.Categories[k].Id;
            if (!classOf.TryAdd(id, k))
                throw new InvalidDataException($"{annotationFile}: categories[{k}] repeats category id {id} (first at categories[{classOf[id]}]); each category must be listed once.");
        }
        if (classOf.Count == 0) throw new InvalidDataException($"{annotationFile}: the \"categories\" list is empty.");

        var imageById = new Dictionary<long, CocoImage>();
        foreach (var (image, i) in instances.Images.Select((image, i) => (image, i)))
        {
            if (!imageById.TryAdd(image.Id, image))
                throw new InvalidDataException($"{annotationFile}: images[{i}] repeats image id {image.Id}; each image must be listed once.");
        }

        // Samples in order of each image's first annotation; a sorted set of classes per sample.
        var order = new List<long>();
        var classesOf = new Dictionary<long, SortedSet<int>>();
        for (int a = 0; a < instances.AnnotationImageIds.Count; a++)
        {
            long imageId = instances.AnnotationImageIds[a], categoryId = instances.AnnotationCategoryIds[a];
            if (!imageById.ContainsKey(imageId))
                throw new InvalidDataException($"{annotationFile}: annotations[{a}] refers to image id {imageId}, which is not in \"images\".");
            if (!classOf.TryGetValue(categoryId, out int k))
                throw new InvalidDataException($"{annotationFile}: annotations[{a}] refers to category id {categoryId}, which is not in \"categories\".");
            if (!classesOf.TryGetValue(imageId, out var classes))
            {
                classesOf[imageId] = classes = [];
                order.Add(imageId);
            }
            classes.Add(k);
        }

        var samples = new List<CocoSample>(order.Count);
        var missing = new List<CocoMissingImage>();
        foreach (long imageId in order)
        {
            string path = Path.Combine(imageFolder, imageById[imageId].FileName);
            if (!File.Exists(path))
            {
                missing.Add(new CocoMissingImage(imageId, path));
                continue;
            }
            var classes = classesOf[imageId].ToArray();
            var targets = new float[classOf.Count];
            foreach (int k in classes) targets[k] = 1;
            samples.Add(new CocoSample(imageId, path, classes, targets));
        }
        return new CocoDataSet(annotationFile, imageFolder, instances.Categories, samples, missing, imageById.Count - order.Count);
    }
}
