using System.Text.RegularExpressions;

namespace AslCuda.Tests.Nvrtc;

/// <summary>
/// What the tests read from one kernel's PTX: its parameter list, its .maxntid, and its loops. A loop is the
/// text from a label to a branch back to it; the main loop of a kernel is its largest (the grid-stride loop
/// that holds the unrolled element work; the scalar head/tail loop of the multi-label kernel is smaller).
/// </summary>
internal sealed partial class PtxListing
{
    private readonly string[] _lines;

    public PtxListing(string ptx, string entry)
    {
        int start = ptx.IndexOf($".entry {entry}(", StringComparison.Ordinal);
        if (start < 0) throw new ArgumentException($"no .entry {entry} in the PTX.", nameof(entry));
        int end = ptx.IndexOf("\n}\n", start, StringComparison.Ordinal);
        string body = ptx[start..(end < 0 ? ptx.Length : end)];
        _lines = body.Split('\n').Select(l => l.Trim()).ToArray();
        int header = body.IndexOf(')');
        ParameterBytes = ParameterPattern().Matches(body[..header]).Select(m => int.Parse(m.Groups[1].Value) / 8).ToArray();
        var maxntid = MaxntidPattern().Match(body);
        MaxThreads = maxntid.Success ? int.Parse(maxntid.Groups[1].Value) : 0;
    }

    /// <summary>Size in bytes of each .param of the entry, in order (.u64/.f64 8, .u32/.f32 4).</summary>
    public int[] ParameterBytes { get; }

    /// <summary>The x of .maxntid x, 1, 1 (from __launch_bounds__), 0 when absent.</summary>
    public int MaxThreads { get; }

    /// <summary>The instructions of the largest loop (label to backward branch, inclusive).</summary>
    public IReadOnlyList<string> MainLoop()
    {
        var labels = new Dictionary<string, int>();
        IReadOnlyList<string> best = [];
        for (int i = 0; i < _lines.Length; i++)
        {
            var label = LabelPattern().Match(_lines[i]);
            if (label.Success) labels[label.Groups[1].Value] = i;
            var branch = BranchPattern().Match(_lines[i]);
            if (branch.Success && labels.TryGetValue(branch.Groups[1].Value, out int head))
            {
                var loop = _lines[head..(i + 1)].Where(IsInstruction).ToArray();
                if (loop.Length > best.Count) best = loop;
            }
        }
        return best;
    }

    /// <summary>
    /// Instructions that issue in SASS: every PTX instruction except mov (virtual-register copies and
    /// immediates, which ptxas folds away) and neg.f32/abs.f32 (operand modifiers of the SASS float
    /// instructions).
    /// </summary>
    public static int IssuingCount(IEnumerable<string> instructions) =>
        instructions.Count(i => !Opcode(i).StartsWith("mov", StringComparison.Ordinal) && Opcode(i) is not ("neg.f32" or "abs.f32"));

    public static string Opcode(string instruction)
    {
        string text = instruction.StartsWith('@') ? instruction[(instruction.IndexOf(' ') + 1)..].TrimStart() : instruction;
        int space = text.IndexOfAny([' ', '\t']);
        return space < 0 ? text.TrimEnd(';') : text[..space];
    }

    private static bool IsInstruction(string line) =>
        line.Length > 0 && !line.StartsWith("$L__", StringComparison.Ordinal) && !line.StartsWith("//", StringComparison.Ordinal)
        && !line.StartsWith('.') && line != "{" && line != "}";

    [GeneratedRegex(@"\.param\s+\.[usbf](\d+)\s+\w+")]
    private static partial Regex ParameterPattern();

    [GeneratedRegex(@"\.maxntid\s+(\d+)")]
    private static partial Regex MaxntidPattern();

    [GeneratedRegex(@"^(\$L__\w+):")]
    private static partial Regex LabelPattern();

    [GeneratedRegex(@"\bbra(?:\.uni)?\s+(\$L__\w+);")]
    private static partial Regex BranchPattern();
}
