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
        var (head, end) = MainLoopLines();
        return _lines[head..(end + 1)].Where(IsInstruction).ToArray();
    }

    /// <summary>
    /// The instructions of the main loop that a warp can execute when it takes one side of the loop's warp vote
    /// (<c>vote.sync.any.pred</c>, followed by a branch on its result): with <paramref name="voteTrue"/> false,
    /// the blocks reachable from the loop head without taking the branch of a true vote, else those reachable
    /// without the branch of a false one. Every other branch counts both ways, so this is the most the path can
    /// execute per iteration. Throws when the loop holds no vote.
    /// </summary>
    public IReadOnlyList<string> MainLoopPath(bool voteTrue)
    {
        var (head, end) = MainLoopLines();
        var blocks = BasicBlocks(head, end);
        var labels = new Dictionary<string, int>();
        for (int b = 0; b < blocks.Count; b++)
            foreach (string line in blocks[b].TakeWhile(l => !IsInstruction(l)))
            {
                var label = LabelPattern().Match(line);
                if (label.Success) labels[label.Groups[1].Value] = b;
            }
        string vote = blocks.SelectMany(b => b).Select(l => VotePattern().Match(l)).FirstOrDefault(m => m.Success)?.Groups[1].Value
            ?? throw new InvalidOperationException("the main loop holds no vote.sync.any.pred.");

        var reached = new HashSet<int>();
        var pending = new Stack<int>([0]);
        while (pending.Count > 0)
        {
            int b = pending.Pop();
            if (b >= blocks.Count || !reached.Add(b)) continue;
            string last = blocks[b].LastOrDefault(IsInstruction) ?? "";
            var branch = BranchPattern().Match(last);
            bool falls = true, takes = branch.Success;
            if (branch.Success)
            {
                string guard = last.StartsWith('@') ? last[1..last.IndexOf(' ')] : "";
                if (guard.Length == 0) falls = false;
                // @%p bra: taken on a true vote; @!%p bra: taken on a false one.
                else if (guard == vote) (takes, falls) = (voteTrue, !voteTrue);
                else if (guard == "!" + vote) (takes, falls) = (!voteTrue, voteTrue);
            }
            // The branch back to the loop head ends the iteration.
            if (takes && labels.TryGetValue(branch.Groups[1].Value, out int target) && target != 0) pending.Push(target);
            if (falls) pending.Push(b + 1);
        }
        return reached.Order().SelectMany(b => blocks[b]).Where(IsInstruction).ToArray();
    }

    private (int Head, int End) MainLoopLines()
    {
        var labels = new Dictionary<string, int>();
        (int Head, int End) best = (0, -1);
        int bestCount = 0;
        for (int i = 0; i < _lines.Length; i++)
        {
            var label = LabelPattern().Match(_lines[i]);
            if (label.Success) labels[label.Groups[1].Value] = i;
            var branch = BranchPattern().Match(_lines[i]);
            if (branch.Success && labels.TryGetValue(branch.Groups[1].Value, out int head))
            {
                int count = _lines[head..(i + 1)].Count(IsInstruction);
                if (count > bestCount) (best, bestCount) = ((head, i), count);
            }
        }
        return best;
    }

    // Lines [head, end] cut into basic blocks: a block starts at a label or after a branch.
    private List<List<string>> BasicBlocks(int head, int end)
    {
        var blocks = new List<List<string>>();
        var current = new List<string>();
        for (int i = head; i <= end; i++)
        {
            string line = _lines[i];
            if (LabelPattern().IsMatch(line) && current.Any(IsInstruction))
            {
                blocks.Add(current);
                current = [];
            }
            current.Add(line);
            if (IsInstruction(line) && Opcode(line).StartsWith("bra", StringComparison.Ordinal))
            {
                blocks.Add(current);
                current = [];
            }
        }
        if (current.Count > 0) blocks.Add(current);
        return blocks;
    }

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

    [GeneratedRegex(@"\bvote\.sync\.any\.pred\s+(%p\d+),")]
    private static partial Regex VotePattern();
}
