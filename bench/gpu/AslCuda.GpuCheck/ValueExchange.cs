using System.Runtime.InteropServices;
using System.Text.Json;
using AslCuda.Gpu;

namespace AslCuda.GpuCheck;

/// <summary>
/// Runs the kernel on inputs that baseline.py wrote (raw little-endian files listed in manifest.json) and
/// writes back the loss and the gradient, so the script can compare them with the paper's PyTorch formula.
/// Options: the paper code's defaults (multi-label: gamma_neg 4, gamma_pos 1, clip 0.05, eps 1e-8, detached,
/// sum; single-label: gamma_pos 0, gamma_neg 4, label smoothing 0.1, mean).
/// </summary>
internal static class ValueExchange
{
    public static int Run(string directory)
    {
        var cases = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(directory, "manifest.json")), JsonContext.Default.ListValueCase)!;
        var results = new Dictionary<string, float>();
        foreach (var c in cases)
        {
            byte[] x = File.ReadAllBytes(Path.Combine(directory, c.X));
            byte[] y = File.ReadAllBytes(Path.Combine(directory, c.Y));
            string gradientPath = Path.Combine(directory, c.Name + ".grad.bin");
            float loss = (c.Kind, c.Logit) switch
            {
                ("multilabel", "float32") => MultiLabel<float>(x, y, gradientPath),
                ("multilabel", "bfloat16") => MultiLabel<BFloat16>(x, y, gradientPath),
                ("singlelabel", "float32") => SingleLabel<float>(x, y, c.C, gradientPath),
                ("singlelabel", "bfloat16") => SingleLabel<BFloat16>(x, y, c.C, gradientPath),
                _ => throw new NotSupportedException($"{c.Kind} {c.Logit}"),
            };
            results[c.Name] = loss;
            Console.WriteLine($"values {c.Name}: loss {loss:R}");
        }
        File.WriteAllText(Path.Combine(directory, "ours.values.json"), JsonSerializer.Serialize(results, JsonContext.Default.DictionaryStringSingle));
        return 0;
    }

    private static float MultiLabel<T>(byte[] xBytes, byte[] y, string gradientPath) where T : unmanaged
    {
        var x = MemoryMarshal.Cast<byte, T>(xBytes);
        var gradient = new T[x.Length];
        float loss = MultiLabelGpu.Compute<T, byte>(x, y, new AslOptions(), gradient, []);
        File.WriteAllBytes(gradientPath, MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray());
        return loss;
    }

    private static float SingleLabel<T>(byte[] xBytes, byte[] targetBytes, int classes, string gradientPath) where T : unmanaged
    {
        var x = MemoryMarshal.Cast<byte, T>(xBytes);
        var gradient = new T[x.Length];
        float loss = SingleLabelGpu.Compute<T, long>(x, MemoryMarshal.Cast<byte, long>(targetBytes), classes, new SingleLabelOptions(), gradient, []);
        File.WriteAllBytes(gradientPath, MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray());
        return loss;
    }
}
