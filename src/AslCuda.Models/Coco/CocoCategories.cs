namespace AslCuda.Models.Coco;

/// <summary>The 80 MS-COCO object categories of instances_val2014.json, in its order.</summary>
public static class CocoCategories
{
    /// <summary>
    /// Category ids 1 to 90 without the ten that COCO never used (12, 26, 29, 30, 45, 66, 68, 69, 71, 83), with
    /// their names, in the json's order; class index k of the COCO checkpoints is entry k.
    /// </summary>
    public static IReadOnlyList<CocoCategory> Coco80 { get; } = Build();

    private static CocoCategory[] Build()
    {
        string[] names =
        [
            "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
            "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
            "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
            "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
            "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
            "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
            "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
            "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
            "scissors", "teddy bear", "hair drier", "toothbrush",
        ];
        long[] unused = [12, 26, 29, 30, 45, 66, 68, 69, 71, 83];
        var ids = Enumerable.Range(1, 90).Select(i => (long)i).Except(unused).ToArray();
        return ids.Select((id, k) => new CocoCategory(id, names[k])).ToArray();
    }
}
