using System.Runtime.CompilerServices;
using System.Text.Json;
using AslCuda.TorchSharp;
using static TorchSharp.torch.nn;

namespace AslCuda.Tests.Support;

/// <summary>
/// One case of Data/official-asl-vectors.json: inputs and what an official class (the ASL paper repository's
/// losses.py or timm's asymmetric_loss.py, at the commits the file names) computed for them in float64 with real
/// PyTorch 1.13: the loss (a scalar, or the per-row losses [N]) and d(sum of the output)/d logits.
/// </summary>
public sealed record OfficialCase(string Name, string Official, IReadOnlyDictionary<string, JsonElement> Arguments,
    double[] Logits, int Rows, int Classes, double[] Targets, long[] ClassIndices, double[] Loss, double[] Gradient)
{
    public bool IsSingleLabel => ClassIndices.Length > 0;
    public override string ToString() => Name;
}

/// <summary>
/// The official vectors and, for each official class, the AslCuda call the README's drop-in table gives for it. An
/// official class or argument without a drop-in throws, so a row can fail but never be skipped.
/// </summary>
public static class OfficialVectors
{
    public const int CaseCount = 57;

    public static IReadOnlyList<OfficialCase> Cases => LazyCases.Value;

    private static readonly Lazy<IReadOnlyList<OfficialCase>> LazyCases = new(Load);

    private static IReadOnlyList<OfficialCase> Load() => Load(DataFile());

    private static string DataFile([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../Data/official-asl-vectors.json"));

    private static IReadOnlyList<OfficialCase> Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new List<OfficialCase>();
        foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var logitRows = c.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            int rows = logitRows.Length, classes = logitRows[0].Length;
            var targets = c.GetProperty("targets");
            bool singleLabel = targets[0].ValueKind == JsonValueKind.Number;
            var loss = c.GetProperty("loss");
            cases.Add(new OfficialCase(
                c.GetProperty("name").GetString()!,
                c.GetProperty("official").GetString()!,
                c.GetProperty("arguments").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()),
                logitRows.SelectMany(r => r).ToArray(), rows, classes,
                singleLabel ? [] : targets.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray(),
                singleLabel ? targets.EnumerateArray().Select(v => v.GetInt64()).ToArray() : [],
                loss.ValueKind == JsonValueKind.Array ? loss.EnumerateArray().Select(v => v.GetDouble()).ToArray() : [loss.GetDouble()],
                c.GetProperty("grad").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray()));
        }
        return cases;
    }

    /// <summary>The README's drop-in call for a multi-label official class, with the case's arguments.</summary>
    public static AsymmetricLoss MultiLabelDropIn(OfficialCase c, AslBackend backend)
    {
        var a = new Arguments(c);
        double gammaNeg = a.Number("gamma_neg", 4), gammaPos = a.Number("gamma_pos", 1), clip = a.Number("clip", 0.05), eps = a.Number("eps", 1e-8);
        var loss = c.Official switch
        {
            "losses.AsymmetricLoss" =>
                new AsymmetricLoss(gammaNeg, gammaPos, clip, eps, a.Flag("disable_torch_grad_focal_loss", true), backend: backend),
            "losses.AsymmetricLossOptimized" =>
                AsymmetricLoss.Optimized(gammaNeg, gammaPos, clip, eps, a.Flag("disable_torch_grad_focal_loss", false), backend),
            "timm.loss.asymmetric_loss.AsymmetricLossMultiLabel" =>
                AsymmetricLoss.Timm(gammaNeg, gammaPos, clip, eps, a.Flag("disable_torch_grad_focal_loss", false), backend),
            _ => throw new NotSupportedException($"{c.Name}: no multi-label drop-in for {c.Official}"),
        };
        a.CheckAllRead();
        return loss;
    }

    /// <summary>The README's drop-in call for a single-label official class, with the case's arguments.</summary>
    public static AsymmetricLossSingleLabel SingleLabelDropIn(OfficialCase c, AslBackend backend)
    {
        var a = new Arguments(c);
        // Both official classes: reduction 'mean' averages the rows, any other value returns the per-row losses.
        var reduction = a.Text("reduction", "mean") == "mean" ? Reduction.Mean : Reduction.None;
        var loss = c.Official switch
        {
            "losses.ASLSingleLabel" =>
                new AsymmetricLossSingleLabel(a.Number("gamma_pos", 0), a.Number("gamma_neg", 4), a.Number("eps", 0.1), reduction, backend),
            "timm.loss.asymmetric_loss.AsymmetricLossSingleLabel" =>
                AsymmetricLossSingleLabel.Timm(a.Number("gamma_pos", 1), a.Number("gamma_neg", 4), a.Number("eps", 0.1), reduction, backend),
            _ => throw new NotSupportedException($"{c.Name}: no single-label drop-in for {c.Official}"),
        };
        a.CheckAllRead();
        return loss;
    }

    /// <summary>The case's arguments; every one must be taken by the drop-in, or the case fails.</summary>
    private sealed class Arguments(OfficialCase c)
    {
        private readonly HashSet<string> _read = [];

        public double Number(string name, double officialDefault) =>
            Take(name) is { } v ? v.GetDouble() : officialDefault;

        public bool Flag(string name, bool officialDefault) =>
            Take(name) is { } v ? v.GetBoolean() : officialDefault;

        public string Text(string name, string officialDefault) =>
            Take(name) is { } v ? v.GetString()! : officialDefault;

        private JsonElement? Take(string name)
        {
            _read.Add(name);
            return c.Arguments.TryGetValue(name, out var value) ? value : null;
        }

        public void CheckAllRead()
        {
            var unread = c.Arguments.Keys.Except(_read).ToArray();
            if (unread.Length > 0) throw new NotSupportedException($"{c.Name}: the drop-in does not take {string.Join(", ", unread)}");
        }
    }
}
