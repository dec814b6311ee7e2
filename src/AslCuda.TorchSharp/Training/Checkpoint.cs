using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AslCuda.TorchSharp.Training;

/// <summary>A checkpoint that cannot be used: unreadable, corrupt, or written for another model or optimizer.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Saves and restores a model, its optimizer and the caller's training progress in one file, so that an
/// interrupted run resumes where it stopped. The file is checksummed and describes the parameters it holds;
/// <see cref="Load{TProgress}"/> checks both before it touches the model, so a corrupt or mismatched file is
/// an error, never a silent restart or a half-loaded model.
/// </summary>
/// <remarks>
/// Layout: magic, format version, payload length, SHA-256 of the payload, payload. The payload is the progress
/// as JSON, the parameter signature, the model state (<c>Module.save</c>) and the optimizer state
/// (<c>save_state_dict</c>). Files are written beside the target and renamed over it, so a run killed while
/// saving leaves the previous checkpoint intact.
/// </remarks>
public static class Checkpoint
{
    private static readonly byte[] Magic = "ASLCKPT\n"u8.ToArray();
    private const int FormatVersion = 1;
    private const int HeaderLength = 8 + sizeof(int) + sizeof(long) + SHA256.HashSizeInBytes;

    /// <summary>Writes <paramref name="model"/>, <paramref name="optimizer"/> and <paramref name="progress"/> to <paramref name="path"/>.</summary>
    public static void Save<TProgress>(string path, nn.Module model, OptimizerHelper optimizer, TProgress progress)
    {
        var payload = new MemoryStream();
        using (var writer = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(JsonSerializer.Serialize(progress));
            writer.Write(optimizer.GetType().FullName!);
            WriteSignature(writer, Signature(model));
            model.save(writer);
            optimizer.save_state_dict(writer);
        }
        byte[] body = payload.ToArray();

        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            using (var writer = new BinaryWriter(file))
            {
                writer.Write(Magic);
                writer.Write(FormatVersion);
                writer.Write((long)body.Length);
                writer.Write(SHA256.HashData(body));
                writer.Write(body);
                writer.Flush();
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            // E.g. path names a folder: the rename fails, and the temporary must not stay behind.
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Restores <paramref name="model"/> and <paramref name="optimizer"/> from <paramref name="path"/> and returns the
    /// saved progress. Throws <see cref="CheckpointException"/>, leaving both untouched, when the file is not a
    /// checkpoint, is truncated or modified, or holds parameters of other names, shapes or types.
    /// </summary>
    public static TProgress Load<TProgress>(string path, nn.Module model, OptimizerHelper optimizer)
    {
        byte[] body = ReadVerifiedPayload(path);
        using var reader = new BinaryReader(new MemoryStream(body), Encoding.UTF8);
        try
        {
            var progress = JsonSerializer.Deserialize<TProgress>(reader.ReadString())
                ?? throw new CheckpointException($"checkpoint {path} holds no progress record.");

            string savedOptimizer = reader.ReadString();
            string expectedOptimizer = optimizer.GetType().FullName!;
            if (savedOptimizer != expectedOptimizer)
                throw new CheckpointException($"checkpoint {path} was written for optimizer {savedOptimizer}, not {expectedOptimizer}.");

            var saved = ReadSignature(reader);
            var expected = Signature(model);
            string? difference = DescribeDifference(saved, expected);
            if (difference is not null)
                throw new CheckpointException($"checkpoint {path} does not match the model: {difference}.");

            Apply(path, reader, model, optimizer);
            return progress;
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or IOException or ArgumentException or InvalidOperationException)
        {
            // The checksum matched, so the writer itself produced something this reader cannot use.
            throw new CheckpointException($"checkpoint {path} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>
    /// Loads the model and optimizer states. The optimizer's state can still disagree with the optimizer (same type,
    /// other parameters or groups), which only its own loader finds, after the model was loaded: so both are
    /// snapshotted first and restored when anything fails, and a failed load changes nothing.
    /// </summary>
    private static void Apply(string path, BinaryReader reader, nn.Module model, OptimizerHelper optimizer)
    {
        var snapshot = new MemoryStream();
        using (var writer = new BinaryWriter(snapshot, Encoding.UTF8, leaveOpen: true))
        {
            model.save(writer);
            optimizer.save_state_dict(writer);
        }
        try
        {
            model.load(reader, strict: true);
            optimizer.load_state_dict(reader);
        }
        catch (Exception e)
        {
            snapshot.Position = 0;
            using var restore = new BinaryReader(snapshot, Encoding.UTF8);
            model.load(restore, strict: true);
            optimizer.load_state_dict(restore);
            throw new CheckpointException(
                $"checkpoint {path} does not fit this optimizer ({optimizer.GetType().Name} over other parameters or groups): {e.Message}; the model and optimizer were left as they were.", e);
        }
    }

    private static byte[] ReadVerifiedPayload(string path)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"checkpoint {path} cannot be opened: {e.Message}", e);
        }
        if (file.Length < HeaderLength || !file.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException($"{path} is not an AslCuda checkpoint (no header).");

        var header = file.AsSpan(Magic.Length);
        int version = BitConverter.ToInt32(header);
        if (version != FormatVersion)
            throw new CheckpointException($"checkpoint {path} has format version {version}; this build reads version {FormatVersion}.");
        long length = BitConverter.ToInt64(header[sizeof(int)..]);
        var storedHash = header.Slice(sizeof(int) + sizeof(long), SHA256.HashSizeInBytes);
        if (length != file.Length - HeaderLength)
            throw new CheckpointException(
                $"checkpoint {path} is corrupt: the header announces {length} payload bytes but the file holds {file.Length - HeaderLength} (truncated or appended to).");
        byte[] body = file[HeaderLength..];
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(storedHash))
            throw new CheckpointException($"checkpoint {path} is corrupt: its checksum does not match its contents.");
        return body;
    }

    private sealed record ParameterEntry(string Name, string Type, long[] Shape);

    private static List<ParameterEntry> Signature(nn.Module model) =>
        model.state_dict().Select(entry => new ParameterEntry(entry.Key, entry.Value.dtype.ToString(), entry.Value.shape)).ToList();

    private static void WriteSignature(BinaryWriter writer, List<ParameterEntry> signature)
    {
        writer.Write(signature.Count);
        foreach (var entry in signature)
        {
            writer.Write(entry.Name);
            writer.Write(entry.Type);
            writer.Write(entry.Shape.Length);
            foreach (long size in entry.Shape) writer.Write(size);
        }
    }

    private static List<ParameterEntry> ReadSignature(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        var signature = new List<ParameterEntry>(count);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            string type = reader.ReadString();
            var shape = new long[reader.ReadInt32()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
            signature.Add(new ParameterEntry(name, type, shape));
        }
        return signature;
    }

    private static string? DescribeDifference(List<ParameterEntry> saved, List<ParameterEntry> expected)
    {
        var savedByName = saved.ToDictionary(e => e.Name);
        var expectedByName = expected.ToDictionary(e => e.Name);
        foreach (var entry in expected)
        {
            if (!savedByName.TryGetValue(entry.Name, out var stored))
                return $"it has no tensor {entry.Name}";
            if (stored.Type != entry.Type || !stored.Shape.SequenceEqual(entry.Shape))
                return $"{entry.Name} is {Describe(stored)} in the checkpoint but {Describe(entry)} in the model";
        }
        var extra = saved.FirstOrDefault(e => !expectedByName.ContainsKey(e.Name));
        return extra is null ? null : $"it holds {extra.Name}, which the model does not have";
    }

    private static string Describe(ParameterEntry entry) => $"{entry.Type}[{string.Join(", ", entry.Shape)}]";
}
