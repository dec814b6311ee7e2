using System.Collections;
using AslCuda.Models.Coco;
using AslCuda.Models.Images;
using AslCuda.Models.Tests.Support;

namespace AslCuda.Models.Tests.Coco;

public class ImageBatchLoaderTests
{
    [Test]
    public async Task BatchesHoldThePreprocessedPicturesAndTargetsInSampleOrder()
    {
        using var folder = new TempDirectory("loader");
        MiniCocoSet.Write(folder.Path);
        var data = CocoDataSet.Open(folder.Path);
        var options = new ImageLoaderOptions { Size = 32, Filter = ImagePreprocessing.ValidateFilter, BatchSize = 4, Workers = 2, PrefetchBatches = 1 };

        var indices = new List<int>();
        await foreach (var batch in ImageBatchLoader.LoadAsync(data.ToImageItems(), options))
        {
            using (batch)
            {
                Assert.That(batch.Failures, Is.Empty);
                Assert.That(batch.Images.shape, Is.EqualTo(new long[] { batch.Count, 3, 32, 32 }));
                Assert.That(batch.Targets!.shape, Is.EqualTo(new long[] { batch.Count, 80 }));
                for (int b = 0; b < batch.Count; b++)
                {
                    var sample = data.Samples[batch.Indices[b]];
                    using var expected = ImagePreprocessing.LoadTensor(sample.Path, 32, ImagePreprocessing.ValidateFilter);
                    Assert.That(batch.Images[b].data<float>().ToArray(), Is.EqualTo(expected.data<float>().ToArray()), sample.Path);
                    Assert.That(batch.Targets[b].data<float>().ToArray(), Is.EqualTo(sample.Targets));
                }
                indices.AddRange(batch.Indices);
            }
        }
        Assert.That(indices, Is.EqualTo(Enumerable.Range(0, data.Samples.Count)));
    }

    [Test]
    public async Task PicturesThatFailAreReportedAndTheRestGoOn()
    {
        using var folder = new TempDirectory("loader-failures");
        MiniCocoSet.Write(folder.Path);
        var data = CocoDataSet.Open(folder.Path);
        File.WriteAllText(data.Samples[1].Path, "not a picture");
        File.Delete(data.Samples[4].Path);
        var options = new ImageLoaderOptions { Size = 16, Filter = ImagePreprocessing.InferFilter, BatchSize = 3, Workers = 3 };

        var loaded = new List<int>();
        var failures = new List<ImageFailure>();
        await foreach (var batch in ImageBatchLoader.LoadAsync(data.ToImageItems(), options))
        {
            using (batch)
            {
                Assert.That(batch.Images.shape[0], Is.EqualTo(batch.Count));
                Assert.That(batch.Targets!.shape[0], Is.EqualTo(batch.Count));
                for (int b = 0; b < batch.Count; b++)
                {
                    using var expected = ImagePreprocessing.LoadTensor(data.Samples[batch.Indices[b]].Path, 16, ImagePreprocessing.InferFilter);
                    Assert.That(batch.Images[b].data<float>().ToArray(), Is.EqualTo(expected.data<float>().ToArray()), "pictures after a failed one moved into place");
                    Assert.That(batch.Targets[b].data<float>().ToArray(), Is.EqualTo(data.Samples[batch.Indices[b]].Targets));
                }
                loaded.AddRange(batch.Indices);
                failures.AddRange(batch.Failures);
            }
        }
        Assert.That(loaded, Is.EqualTo(new[] { 0, 2, 3, 5 }));
        Assert.That(failures.Select(f => f.Index), Is.EqualTo(new[] { 1, 4 }));
        Assert.That(failures[0].Message, Does.StartWith(data.Samples[1].Path + ": not a picture"));
        Assert.That(failures[1].Message, Does.StartWith(data.Samples[4].Path + ": no such file"));
    }

    [Test]
    public async Task ABatchWhosePicturesAllFailIsEmptyAndReportsThem()
    {
        using var folder = new TempDirectory("loader-allfail");
        var items = Enumerable.Range(0, 3).Select(i => new ImageItem(Path.Combine(folder.Path, $"absent{i}.png"))).ToArray();
        var options = new ImageLoaderOptions { Size = 8, Filter = ResampleFilter.Bilinear, BatchSize = 2 };
        var batches = new List<(long Count, int Failures, bool Targets)>();
        await foreach (var batch in ImageBatchLoader.LoadAsync(items, options))
            using (batch)
                batches.Add((batch.Images.shape[0], batch.Failures.Count, batch.Targets is not null));
        Assert.That(batches, Is.EqualTo(new[] { (0L, 2, false), (0L, 1, false) }));
    }

    [Test]
    public async Task PreparesOnlyABoundedNumberOfBatchesAheadAndStopsWhenTheCallerStops()
    {
        using var folder = new TempDirectory("loader-bounded");
        string picture = folder.File("p.png");
        ImageEncoder.Save(new RgbImage(20, 10), picture);
        var items = new AccessCountingList(Enumerable.Range(0, 200).Select(_ => new ImageItem(picture)).ToArray());
        var options = new ImageLoaderOptions { Size = 8, Filter = ResampleFilter.Bilinear, BatchSize = 2, Workers = 2, PrefetchBatches = 2 };

        await foreach (var batch in ImageBatchLoader.LoadAsync(items, options))
        {
            batch.Dispose();
            await Task.Delay(300);
            // Validation reads every item once; loading reads an item again. At most PrefetchBatches + 2 batches
            // (the one held, the prefetched ones, the one waiting to be queued) have been loaded.
            Assert.That(items.Loaded, Is.LessThanOrEqualTo((options.PrefetchBatches + 2) * options.BatchSize));
            break;
        }
        int afterStop = items.Loaded;
        await Task.Delay(200);
        Assert.That(items.Loaded, Is.EqualTo(afterStop), "nothing is loaded after the caller stopped");
    }

    [Test]
    public void BadOptionsAndItemsAreRefused()
    {
        var items = new[] { new ImageItem("a.png", [1, 0]), new ImageItem("b.png") };
        var options = new ImageLoaderOptions { Size = 8, Filter = ResampleFilter.Bicubic };
        var mixed = Assert.Throws<ArgumentException>(() => ImageBatchLoader.Load(items, options))!;
        Assert.That(mixed.Message, Does.Contain("items[1] has no targets but items[0] has 2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatchLoader.Load([], options with { BatchSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatchLoader.Load([], options with { Size = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatchLoader.Load([], options with { Size = 640, BatchSize = 2000 }));
    }

    [Test]
    public void LoadGivesOneBatchOfEveryItem()
    {
        using var folder = new TempDirectory("loader-sync");
        var items = new[] { 7, 13 }.Select(w =>
        {
            string path = folder.File($"{w}.png");
            ImageEncoder.Save(new RgbImage(w, 5), path);
            return new ImageItem(path);
        }).ToArray();
        using var batch = ImageBatchLoader.Load(items, new ImageLoaderOptions { Size = 6, Filter = ResampleFilter.Bicubic });
        Assert.That(batch.Indices, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(batch.Images.shape, Is.EqualTo(new long[] { 2, 3, 6, 6 }));
        Assert.That(batch.Targets, Is.Null);
    }

    /// <summary>Counts how often each item is read, to see how far ahead the loader went.</summary>
    private sealed class AccessCountingList(ImageItem[] items) : IReadOnlyList<ImageItem>
    {
        private readonly int[] _reads = new int[items.Length];

        public int Loaded => _reads.Count(r => r >= 2);

        public ImageItem this[int index]
        {
            get
            {
                Interlocked.Increment(ref _reads[index]);
                return items[index];
            }
        }

        public int Count => items.Length;

        public IEnumerator<ImageItem> GetEnumerator() => ((IEnumerable<ImageItem>)items).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
