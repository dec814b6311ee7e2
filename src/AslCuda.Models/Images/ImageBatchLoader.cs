using System.Runtime.CompilerServices;
using System.Threading.Channels;
using TorchSharp;
using static TorchSharp.torch;

namespace AslCuda.Models.Images;

/// <summary>A picture to load, with its target row when it has one.</summary>
/// <param name="Path">The picture file.</param>
/// <param name="Targets">Its target row (e.g. multi-hot over the classes), or null.</param>
public sealed record ImageItem(string Path, float[]? Targets = null);

/// <summary>A picture that could not be loaded; the batch goes on without it.</summary>
/// <param name="Index">Its index in the item list.</param>
/// <param name="Path">The picture file.</param>
/// <param name="Message">Why: the decoder's message, which names the file.</param>
public sealed record ImageFailure(int Index, string Path, string Message);

/// <summary>How <see cref="ImageBatchLoader"/> prepares batches.</summary>
public sealed record ImageLoaderOptions
{
    /// <summary>Pictures are resized to Size x Size (aspect ratio not kept, as in both official scripts).</summary>
    public required int Size { get; init; }

    /// <summary>The resampling filter: <see cref="ImagePreprocessing.ValidateFilter"/> for validation, <see cref="ImagePreprocessing.InferFilter"/> for inference.</summary>
    public required ResampleFilter Filter { get; init; }

    /// <summary>Pictures per batch (the last batch may be smaller).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Pictures decoded at the same time.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Batches prepared ahead of the one the caller holds; memory is bounded by about (PrefetchBatches + 2) batches.</summary>
    public int PrefetchBatches { get; init; } = 2;
}

/// <summary>
/// Pictures of one batch, preprocessed as the official scripts do (RGB, resized, byte / 255, channel-first),
/// in item order, without the ones that failed. Dispose it to free the tensors.
/// </summary>
public sealed class ImageBatch : IDisposable
{
    internal ImageBatch(Tensor images, Tensor? targets, int[] indices, IReadOnlyList<ImageFailure> failures)
    {
        Images = images;
        Targets = targets;
        Indices = indices;
        Failures = failures;
    }

    /// <summary>float32 [Count, 3, Size, Size] in [0, 1] on the CPU. Count may be 0 when every picture of the batch failed.</summary>
    public Tensor Images { get; }

    /// <summary>float32 [Count, classes]: the items' target rows in the same order; null when the items have none.</summary>
    public Tensor? Targets { get; }

    /// <summary>Item index of each picture in <see cref="Images"/>.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>Pictures of this batch that could not be loaded, in item order.</summary>
    public IReadOnlyList<ImageFailure> Failures { get; }

    /// <summary>Number of pictures in the batch.</summary>
    public int Count => Indices.Count;

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Targets?.Dispose();
    }
}

/// <summary>
/// Decodes and resizes pictures on worker threads ahead of the model, with bounded memory: batches are prepared
/// in order by up to <see cref="ImageLoaderOptions.Workers"/> pictures at a time, at most
/// <see cref="ImageLoaderOptions.PrefetchBatches"/> batches ahead of the caller. A picture that cannot be read
/// is reported in its batch's <see cref="ImageBatch.Failures"/> and skipped; the others go on.
/// </summary>
public static class ImageBatchLoader
{
    /// <summary>The batches of <paramref name="items"/>, in order.</summary>
    public static async IAsyncEnumerable<ImageBatch> LoadAsync(IReadOnlyList<ImageItem> items, ImageLoaderOptions options,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        Validate(items, options);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var workers = new SemaphoreSlim(options.Workers);
        var ready = Channel.CreateBounded<Task<ImageBatch>>(new BoundedChannelOptions(options.PrefetchBatches)
        {
            SingleReader = true,
            SingleWriter = true,
        });
        var producer = Task.Run(() => ProduceAsync(items, options, workers, ready.Writer, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var batch in ready.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
                yield return await batch.ConfigureAwait(false);
            await producer.ConfigureAwait(false);
        }
        finally
        {
            // The caller stopped early (or a batch failed): stop the producer and free what was prepared ahead.
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            while (ready.Reader.TryRead(out var pending)) DisposeWhenDone(pending);
        }
    }

    /// <summary>Loads one batch synchronously (for a handful of pictures, e.g. infer's command line).</summary>
    public static ImageBatch Load(IReadOnlyList<ImageItem> items, ImageLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(items);
        Validate(items, options);
        using var workers = new SemaphoreSlim(options.Workers);
        return LoadBatchAsync(items, 0, items.Count, options, workers, CancellationToken.None).GetAwaiter().GetResult();
    }

    private static async Task ProduceAsync(IReadOnlyList<ImageItem> items, ImageLoaderOptions options, SemaphoreSlim workers,
        ChannelWriter<Task<ImageBatch>> ready, CancellationToken cancellation)
    {
        try
        {
            for (int first = 0; first < items.Count; first += options.BatchSize)
            {
                var batch = LoadBatchAsync(items, first, Math.Min(options.BatchSize, items.Count - first), options, workers, cancellation);
                try
                {
                    await ready.WriteAsync(batch, cancellation).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    DisposeWhenDone(batch);
                    throw;
                }
            }
            ready.Complete();
        }
        catch (Exception e)
        {
            ready.TryComplete(e);
            if (e is not OperationCanceledException) throw;
        }
    }

    private static async Task<ImageBatch> LoadBatchAsync(IReadOnlyList<ImageItem> items, int first, int count,
        ImageLoaderOptions options, SemaphoreSlim workers, CancellationToken cancellation)
    {
        int size = options.Size;
        int perImage = 3 * size * size;
        var images = torch.empty([count, 3, size, size], ScalarType.Float32);
        try
        {
            var errors = new string?[count];
            var loads = new Task[count];
            for (int j = 0; j < count; j++)
            {
                int slot = j;
                loads[j] = Task.Run(async () =>
                {
                    await workers.WaitAsync(cancellation).ConfigureAwait(false);
                    try
                    {
                        var picture = ImagePreprocessing.LoadResized(items[first + slot].Path, size, options.Filter);
                        ImageTensors.WriteChannelFirst(picture, Slot(images, slot, perImage));
                    }
                    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
                    {
                        errors[slot] = e.Message;
                    }
                    finally
                    {
                        workers.Release();
                    }
                }, cancellation);
            }
            await Task.WhenAll(loads).ConfigureAwait(false);

            var indices = new List<int>(count);
            var failures = new List<ImageFailure>();
            for (int j = 0; j < count; j++)
            {
                if (errors[j] is { } message)
                {
                    failures.Add(new ImageFailure(first + j, items[first + j].Path, message));
                    continue;
                }
                // Move the picture down over the failed ones before it (nothing moves when none failed).
                if (indices.Count != j) Slot(images, j, perImage).CopyTo(Slot(images, indices.Count, perImage));
                indices.Add(first + j);
            }
            if (indices.Count != count)
            {
                var kept = images.narrow(0, 0, indices.Count);
                images.Dispose();
                images = kept;
            }
            return new ImageBatch(images, Targets(items, indices), [.. indices], failures);
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    private static Tensor? Targets(IReadOnlyList<ImageItem> items, List<int> indices)
    {
        if (items.Count == 0 || items[0].Targets is null) return null;
        int width = items[0].Targets!.Length;
        var values = new float[indices.Count * width];
        for (int i = 0; i < indices.Count; i++) items[indices[i]].Targets!.CopyTo(values, i * width);
        return torch.tensor(values, [indices.Count, width]);
    }

    /// <summary>The floats of picture <paramref name="slot"/> inside a contiguous float32 CPU tensor (a view of its memory, not a copy).</summary>
    private static Span<float> Slot(Tensor images, int slot, int perImage) =>
        ImageTensors.Floats(images).Slice(slot * perImage, perImage);

    private static void DisposeWhenDone(Task<ImageBatch> batch) =>
        batch.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) t.Result.Dispose();
        }, TaskScheduler.Default);

    private static void Validate(IReadOnlyList<ImageItem> items, ImageLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Size, nameof(options.Size));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Workers, nameof(options.Workers));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.PrefetchBatches, nameof(options.PrefetchBatches));
        if (!Enum.IsDefined(options.Filter)) throw new ArgumentOutOfRangeException(nameof(options), options.Filter, "not a resampling filter.");
        long batchBytes = (long)options.BatchSize * 3 * options.Size * options.Size * sizeof(float);
        if (batchBytes > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(options), $"a batch of {options.BatchSize} pictures of {options.Size} x {options.Size} takes {batchBytes} bytes; keep a batch under 2 GiB (fewer pictures per batch).");
        int? width = null;
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i] ?? throw new ArgumentException($"items[{i}] is null.", nameof(items));
            if (i == 0) width = item.Targets?.Length;
            else if (item.Targets?.Length != width)
                throw new ArgumentException(
                    $"items[{i}] has {(item.Targets is { } t ? $"{t.Length} targets" : "no targets")} but items[0] has {(width is { } w ? $"{w}" : "none")}; every item needs a target row of one width, or none has one.",
                    nameof(items));
        }
    }
}
