using System.Diagnostics;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// A real small disk: a tmpfs of a given size mounted on a fresh temp directory, unmounted and removed on dispose.
/// Needs root (the tests run as root here and in CI); <see cref="Create"/> skips the test with the reason otherwise.
/// </summary>
internal sealed class TmpfsMount : IDisposable
{
    private readonly TempDirectory _dir = new();

    private TmpfsMount()
    {
    }

    public string Path => _dir.Path;

    public static TmpfsMount Create(int megabytes)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a full disk is made with a tmpfs mount, which needs Linux");
        Skip.IfNot(Environment.UserName == "root", $"mounting a tmpfs needs root; running as {Environment.UserName}");
        var mount = new TmpfsMount();
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", mount.Path);
        if (code != 0)
        {
            mount._dir.Dispose();
            Skip.If(true, $"mount -t tmpfs failed (exit {code}): {output}");
        }

        return mount;
    }

    /// <summary>Makes room: the mount is resized (what an operator freeing space does, without touching the files).</summary>
    public void Resize(int megabytes)
    {
        var (code, output) = Run("mount", "-o", $"remount,size={megabytes}m", Path);
        Assert.True(code == 0, $"remount of {Path} failed (exit {code}): {output}");
    }

    public void Dispose()
    {
        // Lazy: a failing test may leave files open, and its own failure is the one to see.
        var (code, output) = Run("umount", "-l", Path);
        Assert.True(code == 0, $"umount {Path} failed (exit {code}): {output}");
        _dir.Dispose();
    }

    /// <summary>Fails when this process still has a file open under the mount.</summary>
    public void AssertNothingOpen() => Assert.Empty(OpenFilesInside());

    /// <summary>This process's open files under the mount (what keeps it busy).</summary>
    private IEnumerable<string> OpenFilesInside() =>
        Directory.GetFiles("/proc/self/fd")
            .Select(fd => new FileInfo(fd).LinkTarget ?? "")
            .Where(target => target.StartsWith(Path, StringComparison.Ordinal));

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), $"{program} did not exit");
        return (process.ExitCode, output);
    }
}
