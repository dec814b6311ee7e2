using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using System.Text;

namespace AslCuda.Tests.Build;

/// <summary>
/// build/glibcxx-shim/fix-libtorchsharp.sh (run by every build, the package's buildTransitive target and publish) with a
/// linker cache listing far longer than a pipe buffer. `ldconfig -p | awk '... exit'` under pipefail made it exit 141
/// without a message whenever awk stopped reading before ldconfig had written everything (1 build in 6 on a machine
/// with 900 libraries). A fake ldconfig first on PATH prints the listing; a fake libstdc++ that already has
/// GLIBCXX_3.4.32 makes the script stop after the lookup, so nothing is patched.
/// </summary>
[NonParallelizable]
[Platform(Include = "Linux")]
[SupportedOSPlatform("linux")]
public class FixLibTorchSharpScriptTests
{
    [TestCase(true, TestName = "Long listing, libstdc++ first")]
    [TestCase(false, TestName = "Long listing, libstdc++ last")]
    public void FindsLibstdcxxInAListingLongerThanAPipeBuffer(bool libstdcxxFirst)
    {
        string work = Directory.CreateTempSubdirectory("aslcuda-fix-script-").FullName;
        try
        {
            string nativeDir = Directory.CreateDirectory(Path.Combine(work, "native")).FullName;
            string library = Path.Combine(nativeDir, "libLibTorchSharp.so");
            File.WriteAllText(library, "not an ELF file: the script must stop before it reads it");
            string libstdcxx = Path.Combine(work, "libstdc++.so.6");
            File.WriteAllText(libstdcxx, "GLIBCXX_3.4.31 GLIBCXX_3.4.32");

            // 20,000 entries (about 1.5 MB, 24 pipe buffers), as `ldconfig -p` prints them.
            var listing = new StringBuilder("20001 libs found in cache `/etc/ld.so.cache'\n");
            string entry = $"\tlibstdc++.so.6 (libc6,x86-64) => {libstdcxx}\n";
            if (libstdcxxFirst) listing.Append(entry);
            for (int i = 0; i < 20_000; i++)
                listing.Append($"\tlibfiller{i}.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libfiller{i}.so.1\n");
            if (!libstdcxxFirst) listing.Append(entry);
            string listingFile = Path.Combine(work, "listing.txt");
            File.WriteAllText(listingFile, listing.ToString());
            string fakeBin = Directory.CreateDirectory(Path.Combine(work, "bin")).FullName;
            string fakeLdconfig = Path.Combine(fakeBin, "ldconfig");
            File.WriteAllText(fakeLdconfig, $"#!/bin/sh\ncat '{listingFile}'\n");
            File.SetUnixFileMode(fakeLdconfig, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            for (int run = 0; run < 5; run++)
            {
                var (status, output) = RunScript(nativeDir, fakeBin);
                Assert.That(status, Is.Zero, $"run {run}: the script failed (141 is SIGPIPE); its output:\n{output}");
                Assert.That(output, Is.Empty, $"run {run}: the script printed something, so it did not stop at the lookup");
            }
            Assert.That(File.ReadAllText(library), Does.StartWith("not an ELF file"), "the library must be left alone");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static (int Status, string Output) RunScript(string nativeDir, string fakeBin, [CallerFilePath] string source = "")
    {
        string script = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../../../build/glibcxx-shim/fix-libtorchsharp.sh"));
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(nativeDir);
        start.Environment["PATH"] = fakeBin + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000)) { process.Kill(entireProcessTree: true); Assert.Fail("the script did not finish in 60 s"); }
        return (process.ExitCode, output.Result + errors.Result);
    }
}
