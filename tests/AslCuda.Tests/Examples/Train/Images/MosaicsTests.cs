using AslCuda.Train.Images;

namespace AslCuda.Tests.Examples.Train.Images;

public class MosaicsTests
{
    private const int Classes = 10;
    private const int Side = 4;
    private const int ImagesPerClass = 3;

    /// <summary>
    /// Tiny source images whose pixels all equal 20 * (class + 1), so that a mosaic cell tells which class it holds
    /// (0 for an empty cell); the classes are interleaved as in a real set.
    /// </summary>
    private static LabelledImages Source()
    {
        int count = Classes * ImagesPerClass;
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % Classes)).ToArray();
        var pixels = labels.SelectMany(k => Enumerable.Repeat((byte)(20 * (k + 1)), Side * Side)).ToArray();
        return new LabelledImages(pixels, labels, Side);
    }

    /// <summary>The class in each cell of mosaic <paramref name="m"/> (-1 when empty), checking that the cell is one whole image.</summary>
    private static int[] CellClasses(Mosaics mosaics, int m, int grid)
    {
        var cells = new int[grid * grid];
        for (int c = 0; c < cells.Length; c++)
        {
            int top = c / grid * Side, left = c % grid * Side;
            var values = new HashSet<float>();
            for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
                values.Add(mosaics.Pixels[m * mosaics.Side * mosaics.Side + (top + y) * mosaics.Side + left + x]);
            Assert.That(values, Has.Count.EqualTo(1), $"mosaic {m} cell {c} is not one whole image");
            int level = (int)Math.Round(values.Single() * 255);
            cells[c] = level == 0 ? -1 : level / 20 - 1;
        }
        return cells;
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void LabelsAreExactlyTheClassesInTheCells(int grid)
    {
        var options = new MosaicOptions { Grid = grid, EmptyCellRate = 0.4 };
        var mosaics = Mosaics.Build(Source(), Classes, count: 500, options, new Random(7));

        Assert.That(mosaics.Side, Is.EqualTo(grid * Side));
        Assert.That(mosaics.Pixels, Has.Length.EqualTo(500 * grid * Side * grid * Side));
        for (int m = 0; m < mosaics.Count; m++)
        {
            var present = CellClasses(mosaics, m, grid).Where(k => k >= 0).ToHashSet();
            Assert.That(present, Is.Not.Empty, $"mosaic {m} has no item");
            var labelled = Enumerable.Range(0, Classes).Where(k => mosaics.Targets[m * Classes + k] == 1).ToHashSet();
            Assert.That(labelled, Is.EquivalentTo(present), $"mosaic {m}");
            Assert.That(mosaics.Targets.Skip(m * Classes).Take(Classes), Is.All.EqualTo(0f).Or.EqualTo(1f));
        }
    }

    [Test]
    public void FilledCellsFollowTheLongTailedClassWeights()
    {
        var options = new MosaicOptions { Grid = 2, EmptyCellRate = 0.4, ClassFrequencyExponent = 1.0 };
        var mosaics = Mosaics.Build(Source(), Classes, count: 5000, options, new Random(11));
        var counts = new int[Classes];
        int filled = 0, cells = 0;
        for (int m = 0; m < mosaics.Count; m++)
            foreach (int k in CellClasses(mosaics, m, options.Grid))
            {
                cells++;
                if (k < 0) continue;
                counts[k]++;
                filled++;
            }

        // 12 000 filled cells: the binomial sd of a class share is below 0.005, the tolerance is 0.015.
        var weights = Mosaics.ClassWeights(Classes, options.ClassFrequencyExponent);
        for (int k = 0; k < Classes; k++)
            Assert.That(counts[k] / (double)filled, Is.EqualTo(weights[k]).Within(0.015), $"class {k}");
        Assert.That(weights[0] / weights[^1], Is.EqualTo(10).Within(1e-12));
        // Mosaics with no item are drawn again, so slightly fewer than 40 % of cells stay empty (0.4^4 = 2.6 % of draws were all empty).
        Assert.That(1 - filled / (double)cells, Is.InRange(0.37, 0.40));
    }

    [Test]
    public void TheSameSeedBuildsTheSameDataSetAndAnotherSeedAnother()
    {
        var options = new MosaicOptions { TrainSamples = 200, ValidationSamples = 100, MissingLabelRate = 0.3, Seed = 5 };
        var first = MosaicDataSet.Build(Source(), Source(), Classes, options);
        var again = MosaicDataSet.Build(Source(), Source(), Classes, options);
        var other = MosaicDataSet.Build(Source(), Source(), Classes, options with { Seed = 6 });

        // SequenceEqual keeps a failure's message short (the arrays hold thousands of values).
        Assert.That(again.Train.Pixels.SequenceEqual(first.Train.Pixels), "training images");
        Assert.That(again.Train.Targets.SequenceEqual(first.Train.Targets), "training targets");
        Assert.That(again.Validation.Pixels.SequenceEqual(first.Validation.Pixels), "validation images");
        Assert.That(again.Validation.Targets.SequenceEqual(first.Validation.Targets), "validation targets");
        Assert.That(other.Train.Targets.SequenceEqual(first.Train.Targets), Is.False, "another seed, other training targets");
        Assert.That(other.Validation.Pixels.SequenceEqual(first.Validation.Pixels), Is.False, "another seed, other validation images");
    }

    [Test]
    public void ValidationMosaicsDoNotDependOnTheTrainingSetOrItsMissingLabels()
    {
        var options = new MosaicOptions { TrainSamples = 200, ValidationSamples = 100 };
        var baseline = MosaicDataSet.Build(Source(), Source(), Classes, options);
        var changed = MosaicDataSet.Build(Source(), Source(), Classes, options with { TrainSamples = 50, MissingLabelRate = 0.5 });
        Assert.That(changed.Validation.Pixels.SequenceEqual(baseline.Validation.Pixels), "validation images");
        Assert.That(changed.Validation.Targets.SequenceEqual(baseline.Validation.Targets), "validation targets");
    }

    [TestCase(0.2)]
    [TestCase(0.5)]
    public void MissingLabelsRemoveTheRequestedShareOfPositivesAndNothingElse(double rate)
    {
        var options = new MosaicOptions { TrainSamples = 4000, ValidationSamples = 10 };
        var complete = MosaicDataSet.Build(Source(), Source(), Classes, options);
        var partial = MosaicDataSet.Build(Source(), Source(), Classes, options with { MissingLabelRate = rate });

        Assert.That(partial.Train.Pixels.SequenceEqual(complete.Train.Pixels), "the same images; only the targets change");
        int positives = 0, removed = 0;
        for (int i = 0; i < complete.Train.Targets.Length; i++)
        {
            float before = complete.Train.Targets[i], after = partial.Train.Targets[i];
            Assert.That(after, Is.LessThanOrEqualTo(before), $"target {i}: a negative became positive");
            if (before == 1) positives++;
            if (before == 1 && after == 0) removed++;
        }
        // About 8 000 positives: the binomial sd of the removed share is below 0.006, the tolerance is 0.02.
        Assert.That(positives, Is.GreaterThan(7000));
        Assert.That(removed / (double)positives, Is.EqualTo(rate).Within(0.02));
    }

    [Test]
    public void BadOptionsAreRejectedWithTheirName()
    {
        Assert.That(() => Mosaics.Build(Source(), Classes, 10, new MosaicOptions { EmptyCellRate = 1 }, new Random(1)),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("EmptyCellRate"));
        Assert.That(() => Mosaics.Build(Source(), Classes, 10, new MosaicOptions { Grid = 0 }, new Random(1)),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("Grid"));
        var mosaics = Mosaics.Build(Source(), Classes, 10, new MosaicOptions(), new Random(1));
        Assert.That(() => mosaics.WithMissingLabels(1, new Random(1)), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("rate"));
        // Eleven classes asked for, but the source has no image of class 10.
        Assert.That(() => Mosaics.Build(Source(), Classes + 1, 10, new MosaicOptions(), new Random(1)),
            Throws.ArgumentException.With.Message.Contains("class 10"));
    }
}
