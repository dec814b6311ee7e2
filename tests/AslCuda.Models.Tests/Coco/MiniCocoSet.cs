using AslCuda.Models.Coco;
using AslCuda.Models.Images;

namespace AslCuda.Models.Tests.Coco;

/// <summary>
/// A small data set in the COCO validation layout that exercises every rule of validate.py's data (TRESNET.md
/// 3.2): the real 80 COCO categories (ids 1..90 with their 10 gaps), annotations in another order than the images,
/// images without annotations (not samples), repeated and crowd annotations, most classes without positives, PNG
/// and JPEG pictures, square and non-square, small enough for a TResNet-M test at 64 x 64. It uses only
/// AslCuda.Models' public API, so other test projects can link this file.
/// </summary>
public static class MiniCocoSet
{
    /// <summary>What <see cref="Write"/> wrote, for assertions.</summary>
    /// <param name="DataFolder">The data folder (annotations/ and val2014/ inside).</param>
    /// <param name="SampleImageIds">The samples' image ids in validate.py's order.</param>
    /// <param name="SampleClasses">Class indices (positions in the 80 categories) of each sample, ascending.</param>
    /// <param name="UnannotatedImageIds">Images listed in the json without annotations.</param>
    public sealed record Layout(string DataFolder, long[] SampleImageIds, int[][] SampleClasses, long[] UnannotatedImageIds);

    /// <summary>Class index of a COCO category id (its position in the 80).</summary>
    public static int ClassOf(long categoryId) => CocoCategories.Coco80.Select(c => c.Id).ToList().IndexOf(categoryId);

    /// <summary>Writes the set into <paramref name="dataFolder"/>.</summary>
    public static Layout Write(string dataFolder, int seed = 2014)
    {
        var random = new Random(seed);
        (long Id, int Width, int Height, ImageFileFormat Format)[] pictures =
        [
            (139, 64, 48, ImageFileFormat.Jpeg),
            (285, 50, 50, ImageFileFormat.Png),
            (632, 37, 91, ImageFileFormat.Png),
            (724, 80, 53, ImageFileFormat.Jpeg),   // no annotation
            (776, 64, 64, ImageFileFormat.Png),
            (785, 120, 33, ImageFileFormat.Jpeg),
            (802, 45, 60, ImageFileFormat.Png),    // no annotation
            (872, 96, 72, ImageFileFormat.Jpeg),
        ];
        var images = pictures.Select(p => new CocoLayoutImage(p.Id, $"COCO_val2014_{p.Id:D12}.jpg", Picture(p.Width, p.Height, random), p.Format))
            .ToArray();

        // Image order in "annotations" is 785, 139, 872, 285, 632, 776 (not the "images" order); 785 comes back
        // later (its first annotation decides its place), 872 has a crowd annotation and a repeated category.
        // Category ids at the edges of COCO's gaps: 11/13 around 12, 25/27 around 26, 28/31 around 29-30,
        // 44/46 around 45, 65/67 around 66, 70/72 around 68-71, 82/84 around 83, and 90, the last.
        (long Image, long Category, bool Crowd)[] annotations =
        [
            (785, 1, false), (785, 90, false), (139, 11, false), (872, 13, true), (872, 25, false),
            (785, 27, false), (285, 28, false), (872, 13, false), (632, 31, false), (632, 44, false),
            (776, 46, false), (139, 65, false), (776, 67, false), (785, 70, false), (285, 72, false),
            (632, 82, false), (139, 84, false), (872, 1, true),
        ];
        var boxes = annotations.Select(a =>
        {
            var picture = images.Single(i => i.Id == a.Image).Picture;
            return new CocoLayoutAnnotation(a.Image, a.Category, 1, 2, picture.Width / 2.0, picture.Height / 3.0, a.Crowd);
        }).ToArray();
        CocoLayoutWriter.Write(dataFolder, CocoCategories.Coco80, images, boxes);

        long[] order = [785, 139, 872, 285, 632, 776];
        var classes = order.Select(id => annotations.Where(a => a.Image == id).Select(a => ClassOf(a.Category)).Distinct().Order().ToArray()).ToArray();
        return new Layout(dataFolder, order, classes, [724, 802]);
    }

    /// <summary>Smooth colour areas with a few sharp-edged blocks (JPEG and resize see real structure, not noise).</summary>
    private static RgbImage Picture(int width, int height, Random random)
    {
        var image = new RgbImage(width, height);
        double fx = 0.05 + random.NextDouble() * 0.2, fy = 0.05 + random.NextDouble() * 0.2;
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int i = (y * width + x) * RgbImage.BytesPerPixel;
            image.Pixels[i] = (byte)(127 + 120 * Math.Sin(fx * x));
            image.Pixels[i + 1] = (byte)(127 + 120 * Math.Cos(fy * y));
            image.Pixels[i + 2] = (byte)((x * 255 / width + y * 255 / height) / 2);
        }
        for (int b = 0; b < 3; b++)
        {
            int x0 = random.Next(width), y0 = random.Next(height);
            byte r = (byte)random.Next(256), g = (byte)random.Next(256), bl = (byte)random.Next(256);
            for (int y = y0; y < Math.Min(height, y0 + height / 4 + 1); y++)
            for (int x = x0; x < Math.Min(width, x0 + width / 4 + 1); x++)
            {
                int i = (y * width + x) * RgbImage.BytesPerPixel;
                (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]) = (r, g, bl);
            }
        }
        return image;
    }
}
