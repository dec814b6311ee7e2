using System.Text.Json;
using AslCuda.Gpu;

namespace AslCuda.GpuCheck;

/// <summary>
/// Runs the kernel on inputs that baseline.py wrote (raw little-endian files listed in manifest.json) and
/// writes back the loss and the gradient, so the script can compare them with the paper's PyTorch formula.
/// Options: the paper code's defaults (gamma_neg 4, gamma_pos 1, clip 0.05, eps 1e-8, detached, sum).
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
            float loss = c.Logit switch
            {
                "float32" => RunTyped<float>(x, y, Path.Combine(directory, c.Name + ".grad.bin")),
                "bfloat16" => RunTyped<BFloat16>(x, y, Path.Combine(directory, c.Name + ".grad.bin")),
                _ => throw new NotSupportedException(c.Logit),
            };
            results[c.Name] = loss;
            Console.WriteLine($"values {c.Name}: loss {loss:R}");
        }
        File.WriteAllText(Path.Combine(directory, "ours.values.json"), JsonSerializer.Serialize(results, JsonContext.Default.DictionaryStringSingle));
        return 0;
    }

    private static float RunTyped<T>(byte[] xBytes, byte[] y, string gradientPath) where T : unmanaged
    {
        var x = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(xBytes);
        var gradient = new T[x.Length];
        float loss = MultiLabelGpu.Compute<T, byte>(x, y, new AslOptions(), gradient, []);
        File.WriteAllBytes(gradientPath, System.Runtime.InteropServices.MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray());
        return loss;
    }
}
