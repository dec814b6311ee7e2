namespace AslCuda.Train.Images;

/// <summary>How the multi-label mosaics are built; the defaults make the whole comparison fit a 2-core CPU.</summary>
internal sealed record MosaicOptions
{
    /// <summary>Cells per side: a mosaic is Grid x Grid cells, each empty or holding one image.</summary>
    public int Grid { get; init; } = 2;
    /// <summary>Probability that a cell stays empty.</summary>
    public double EmptyCellRate { get; init; } = 0.4;
    /// <summary>A filled cell holds class k (from 0) with weight (k + 1)^-exponent: a long tail, Ankle boot the rarest.</summary>
    public double ClassFrequencyExponent { get; init; } = 1.0;
    public int TrainSamples { get; init; } = 6_000;
    public int ValidationSamples { get; init; } = 3_000;
    /// <summary>Share of positive labels removed from the training annotations (partially annotated sets, OpenImages).</summary>
    public double MissingLabelRate { get; init; }
    public int Seed { get; init; } = 20_090_119;
}

/// <summary>
/// Mosaics of <see cref="Count"/> images of <see cref="Side"/> x <see cref="Side"/> pixels in [0, 1] (row-major,
/// [count, side * side]) with their multi-label targets [count, classes] (1 where the class is in the mosaic).
/// </summary>
internal sealed record Mosaics(int Count, int Side, int Classes, float[] Pixels, float[] Targets)
{
    /// <summary>
    /// Builds <paramref name="count"/> mosaics from <paramref name="source"/>: each cell is empty with probability
    /// EmptyCellRate, else it draws a class from the long-tailed class weights and a random image of that class.
    /// Mosaics left without any item are drawn again, so every mosaic has at least one label. Deterministic for a
    /// given <paramref name="random"/> state.
    /// </summary>
    public static Mosaics Build(LabelledImages source, int classes, int count, MosaicOptions options, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Grid, nameof(options.Grid));
        if (options.EmptyCellRate is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.EmptyCellRate, "EmptyCellRate must be in [0, 1).");

        var imagesOfClass = Enumerable.Range(0, classes)
            .Select(k => Enumerable.Range(0, source.Count).Where(i => source.Labels[i] == k).ToArray()).ToArray();
        var weights = ClassWeights(classes, options.ClassFrequencyExponent);
        for (int k = 0; k < classes; k++)
            if (weights[k] > 0 && imagesOfClass[k].Length == 0)
                throw new ArgumentException($"the source images hold no image of class {k}, which the mosaics need.", nameof(source));

        int cell = source.Side, side = options.Grid * cell;
        var pixels = new float[(long)count * side * side];
        var targets = new float[(long)count * classes];
        var cellClass = new int[options.Grid * options.Grid];
        for (int m = 0; m < count; m++)
        {
            do
            {
                for (int c = 0; c < cellClass.Length; c++)
                    cellClass[c] = random.NextDouble() < options.EmptyCellRate ? -1 : Draw(weights, random);
            } while (cellClass.All(k => k < 0));

            var mosaic = pixels.AsSpan(m * side * side, side * side);
            for (int c = 0; c < cellClass.Length; c++)
            {
                int k = cellClass[c];
                if (k < 0) continue;
                targets[m * classes + k] = 1;
                var candidates = imagesOfClass[k];
                int image = candidates[random.Next(candidates.Length)];
                int top = c / options.Grid * cell, left = c % options.Grid * cell;
                for (int y = 0; y < cell; y++)
                for (int x = 0; x < cell; x++)
                    mosaic[(top + y) * side + left + x] = source.Pixels[image * cell * cell + y * cell + x] / 255f;
            }
        }
        return new Mosaics(count, side, classes, pixels, targets);
    }

    /// <summary>Normalised class probabilities of a filled cell: (k + 1)^-exponent over their sum.</summary>
    public static double[] ClassWeights(int classes, double exponent)
    {
        var weights = Enumerable.Range(1, classes).Select(k => Math.Pow(k, -exponent)).ToArray();
        double sum = weights.Sum();
        return weights.Select(w => w / sum).ToArray();
    }

    /// <summary>
    /// A copy of the targets with each positive removed with probability <paramref name="rate"/> (negatives stay);
    /// the images are shared, not copied.
    /// </summary>
    public Mosaics WithMissingLabels(double rate, Random random)
    {
        if (rate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(rate), rate, "the missing-label rate must be in [0, 1).");
        var kept = (float[])Targets.Clone();
        for (int i = 0; i < kept.Length; i++)
            if (kept[i] == 1 && random.NextDouble() < rate) kept[i] = 0;
        return this with { Targets = kept };
    }

    private static int Draw(double[] weights, Random random)
    {
        double u = random.NextDouble();
        for (int k = 0; k < weights.Length - 1; k++)
        {
            u -= weights[k];
            if (u < 0) return k;
        }
        return weights.Length - 1;
    }
}

/// <summary>The multi-label set of the image comparison: training mosaics from the training images, validation from the test images.</summary>
internal sealed record MosaicDataSet(MosaicOptions Options, Mosaics Train, Mosaics Validation)
{
    /// <summary>
    /// Builds both splits. Each has its own random stream derived from the seed, so the validation mosaics do not
    /// change when the training set's size does; the missing labels come from a third stream.
    /// </summary>
    public static MosaicDataSet Build(LabelledImages trainImages, LabelledImages testImages, int classes, MosaicOptions options)
    {
        var train = Mosaics.Build(trainImages, classes, options.TrainSamples, options, new Random(options.Seed));
        var validation = Mosaics.Build(testImages, classes, options.ValidationSamples, options, new Random(options.Seed + 1));
        if (options.MissingLabelRate > 0)
            train = train.WithMissingLabels(options.MissingLabelRate, new Random(options.Seed + 2));
        return new MosaicDataSet(options, train, validation);
    }
}
