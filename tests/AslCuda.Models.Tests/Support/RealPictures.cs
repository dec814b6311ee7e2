namespace AslCuda.Models.Tests.Support;

/// <summary>
/// Real photographs and drawings found on this machine, for comparisons against Pillow: scikit-image's sample
/// pictures (Debian python3-skimage: astronaut, coffee, chelsea, a 640 x 427 rocket JPEG, ...), JPEGs under
/// /usr/share/doc, and any folder named by ASLCUDA_REAL_PICTURES.
/// </summary>
internal static class RealPictures
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png"];

    public static IReadOnlyList<string> Find(int limit = 40)
    {
        var folders = new List<(string Folder, SearchOption Depth)>
        {
            ("/usr/lib/python3/dist-packages/skimage/data", SearchOption.TopDirectoryOnly),
            ("/usr/share/doc", SearchOption.AllDirectories),
        };
        if (Environment.GetEnvironmentVariable("ASLCUDA_REAL_PICTURES") is { Length: > 0 } extra)
            folders.Insert(0, (extra, SearchOption.AllDirectories));
        var found = new List<string>();
        foreach (var (folder, depth) in folders)
        {
            if (!Directory.Exists(folder)) continue;
            found.AddRange(Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = depth == SearchOption.AllDirectories, IgnoreInaccessible = true })
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Where(f => new FileInfo(f).Length >= 2_000)
                .Order(StringComparer.Ordinal));
        }
        return found.Distinct().Take(limit).ToArray();
    }
}
