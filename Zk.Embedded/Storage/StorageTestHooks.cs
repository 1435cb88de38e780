using System.Globalization;

namespace Zk.Embedded.Storage;

/// <summary>
/// Test hooks of a peer's txn log, read from the environment so that a crash test can shape the log of a child
/// <c>zk</c> process and stop it at an exact point before it sends SIGKILL (timing could not hit these points):
/// <c>ZK_TEST_CHECKPOINT_PAGES</c> sets <see cref="TxnLogOptions.CheckpointPages"/>; <c>ZK_TEST_STORAGE_STOP_AT</c>
/// names a hook point (<see cref="TxnLogOptions.HookRotation"/>, ...), and the first thread to reach it writes
/// <c>zk test hook: stopped at &lt;point&gt;</c> to stderr and blocks for good. Neither is set in production.
/// </summary>
internal static class StorageTestHooks
{
    public const string CheckpointPagesVariable = "ZK_TEST_CHECKPOINT_PAGES";
    public const string StopAtVariable = "ZK_TEST_STORAGE_STOP_AT";
    public const string StoppedLine = "zk test hook: stopped at ";

    public static TxnLogOptions Apply(TxnLogOptions options)
    {
        if (Environment.GetEnvironmentVariable(CheckpointPagesVariable) is { } text
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pages) && pages > 0)
        {
            options = options with { CheckpointPages = pages };
        }

        if (Environment.GetEnvironmentVariable(StopAtVariable) is { Length: > 0 } stopAt)
        {
            var stopped = 0;
            options = options with
            {
                Hook = point =>
                {
                    if (point == stopAt && Interlocked.Exchange(ref stopped, 1) == 0)
                    {
                        Console.Error.WriteLine(StoppedLine + point);
                        Console.Error.Flush();
                        Thread.Sleep(Timeout.Infinite);
                    }
                },
            };
        }

        return options;
    }
}
