using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AslCuda.Models.Tests.Support;

/// <summary>
/// Debian's Pillow 9.4 (and torchvision) run by /usr/bin/python3 through pillow_oracle.py, which takes a batch of
/// jobs per process start. Where python3-pil is missing the tests are ignored with the reason, unless
/// ASLCUDA_REQUIRE_PIL=1 (for CI), which makes that a failure.
/// </summary>
internal static class PillowOracle
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> Missing = new(FindProblem);

    public static void Require()
    {
        if (Missing.Value is not { } problem) return;
        if (Environment.GetEnvironmentVariable("ASLCUDA_REQUIRE_PIL") == "1")
            Assert.Fail("ASLCUDA_REQUIRE_PIL=1 but the Pillow oracle is not available: " + problem);
        Assert.Ignore("Pillow oracle not available (apt-get install python3-pil python3-numpy; ASLCUDA_REQUIRE_PIL=1 makes this a failure): " + problem);
    }

    /// <summary>Runs the jobs (JSON objects as pillow_oracle.py documents them) and returns one result object per job.</summary>
    public static JsonObject[] Run(IReadOnlyList<object> jobs)
    {
        Require();
        var start = new ProcessStartInfo(Python, [ScriptPath()])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(JsonSerializer.Serialize(jobs));
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            if (stderr.Result.Contains("No module named 'torchvision'", StringComparison.Ordinal) &&
                Environment.GetEnvironmentVariable("ASLCUDA_REQUIRE_PIL") != "1")
                Assert.Ignore("/usr/bin/python3 has no torchvision (apt-get install python3-torchvision; ASLCUDA_REQUIRE_PIL=1 makes this a failure)");
            Assert.Fail($"pillow_oracle.py exited with {process.ExitCode}: {stderr.Result}");
        }
        var results = JsonNode.Parse(stdout)!.AsArray().Select(node => node!.AsObject()).ToArray();
        Assert.That(results, Has.Length.EqualTo(jobs.Count), "one result per job");
        return results;
    }

    /// <summary>Pillow's RGB bytes of one decoded (and possibly resized) picture, or null with Pillow's error.</summary>
    public static (byte[]? Rgb, int Width, int Height, string? Error) ReadResult(JsonObject result, string outPath)
    {
        if (result["error"] is { } error) return (null, 0, 0, error.GetValue<string>());
        return (File.ReadAllBytes(outPath), result["width"]!.GetValue<int>(), result["height"]!.GetValue<int>(), null);
    }

    private static string? FindProblem()
    {
        if (!File.Exists(Python)) return $"{Python} does not exist";
        try
        {
            var start = new ProcessStartInfo(Python, ["-c", "import PIL, numpy; print(PIL.__version__)"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{Python} cannot import PIL and numpy: {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{Python} could not be started: {e.Message}";
        }
    }

    private static string ScriptPath([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "pillow_oracle.py");
}
