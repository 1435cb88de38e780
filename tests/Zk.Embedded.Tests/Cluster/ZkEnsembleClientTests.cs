using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Tests.Interop;
using Zk.Embedded.Tests.Support;
using Zk.Embedded.Wire.Client;

namespace Zk.Embedded.Tests.Cluster;

/// <summary>
/// More of <c>zk start zoo.cfg</c> ensembles across processes: the C client's cli_mt with a three-host connect string
/// across the leader's SIGKILL, and an observer process that serves reads, forwards writes and reports its mode as
/// ZooKeeper's does.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class ZkEnsembleClientTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = ZkProcessEnsemble.Deadline;
    private readonly ZkProcessEnsemble _ensemble = new();

    public void Dispose() => _ensemble.Dispose(output);

    [SkippableFact]
    public async Task Cli_mt_with_three_hosts_keeps_its_session_and_ephemeral_across_the_leaders_SIGKILL()
    {
        InteropTools.RequireFiles(InteropTools.CliMt);
        _ensemble.Configure(3);
        _ensemble.StartAll();
        var leader = await _ensemble.LeaderAsync(_ensemble.Members);
        await using var cli = ExternalProcess.Start(InteropTools.CliMt, [_ensemble.ConnectString]);
        await cli.WaitForOutputAsync(() => Connected(cli, 0), "cli_mt to connect", Deadline);
        await StepAsync(cli, "create /mt-before", "name = /mt-before");
        await StepAsync(cli, "create +e /mt-owner", "name = /mt-owner");
        var session = SessionOf(cli);

        _ensemble.Members[leader - 1].Process!.Kill();
        await _ensemble.LeaderAsync(_ensemble.Members.Where(m => m.Id != leader));
        // cli_mt moves to another host by itself; a command sent before it reconnected may fail, so it is retried.
        await RetryStepAsync(cli, "create /mt-after", "name = /mt-after", "/mt-after]: rc = -110");   // or a retry finds it made
        await StepAsync(cli, "get /mt-before", "/mt-before: rc = 0");

        Assert.Equal(session, SessionOf(cli));
        await using var other = await ZkClient.ConnectAsync(_ensemble.ConnectString);
        var owner = await other.ExistsAsync("/mt-owner");
        Assert.True(owner is { } o && o.EphemeralOwner == session,
            $"expected cli_mt's ephemeral /mt-owner to survive with its session 0x{session:x}, found owner 0x{owner?.EphemeralOwner ?? 0:x}");
        Assert.NotNull(await other.ExistsAsync("/mt-after"));
        await cli.WriteLineAsync("quit");
        await cli.WaitForExitAsync(Deadline);
    }

    [Fact]
    public async Task An_observer_process_serves_reads_forwards_writes_reports_its_mode_and_catches_up_after_a_SIGKILL()
    {
        _ensemble.Configure(voters: 3, observers: 1);
        _ensemble.StartAll();
        var leader = await _ensemble.LeaderAsync(_ensemble.Members);
        var observer = _ensemble.Members[3];

        await using (var onObserver = await ZkClient.ConnectAsync(observer.Client.ToString()))
        {
            await ZkProcessEnsemble.WriteAsync(onObserver, 0, 10);   // forwarded to the leader
            Assert.Equal(10, (await onObserver.GetChildrenAsync("/")).Count(c => c.StartsWith('w')));
        }

        Assert.Contains("Mode: observer", await ZkProcessEnsemble.SrvrAsync(observer), StringComparison.Ordinal);
        var observerMntr = await ZkProcessEnsemble.FourLetterWordAsync(observer, "mntr");
        Assert.Contains("zk_server_state\tobserver", observerMntr, StringComparison.Ordinal);
        var leaderMntr = await ZkProcessEnsemble.FourLetterWordAsync(_ensemble.Members[leader - 1], "mntr");
        Assert.True(leaderMntr.Contains("zk_synced_observers\t1", StringComparison.Ordinal) && leaderMntr.Contains("zk_synced_followers\t2", StringComparison.Ordinal),
            $"expected the leader's mntr to count 2 synced followers and 1 synced observer:\n{leaderMntr}");

        observer.Process!.Kill();
        await using (var onVoters = await ZkClient.ConnectAsync(string.Join(',', _ensemble.Members.Take(3).Select(m => m.Client))))
            await ZkProcessEnsemble.WriteAsync(onVoters, 10, 20);   // the voters go on without it
        observer.Start(_ensemble.Directory);
        await _ensemble.LeaderAsync(_ensemble.Members);
        await _ensemble.EveryMemberHoldsAsync(20);
    }

    private static bool Connected(ExternalProcess cli, int from) =>
        cli.StdOut[Math.Min(from, cli.StdOut.Length)..].Contains("state = CONNECTED_STATE", StringComparison.Ordinal)
        || cli.StdErr.Contains("state = CONNECTED_STATE", StringComparison.Ordinal);

    /// <summary>The session id cli_mt printed last: it prints "Got a new session id: 0x..." whenever its session changes.</summary>
    private static long SessionOf(ExternalProcess cli)
    {
        var text = cli.StdErr + cli.StdOut;
        const string marker = "Got a new session id: 0x";
        var at = text.LastIndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"expected cli_mt to log its session id:\n{cli.Transcript}");
        var hex = new string(text[(at + marker.Length)..].TakeWhile(Uri.IsHexDigit).ToArray());
        return Convert.ToInt64(hex, 16);
    }

    private static async Task StepAsync(ExternalProcess cli, string command, string expected)
    {
        var (outFrom, errFrom) = (cli.StdOut.Length, cli.StdErr.Length);
        await cli.WriteLineAsync(command);
        await cli.WaitForOutputAsync(
            () => cli.StdOut[outFrom..].Contains(expected, StringComparison.Ordinal) || cli.StdErr[errFrom..].Contains(expected, StringComparison.Ordinal),
            $"'{command}' to print \"{expected}\"", Deadline);
    }

    /// <summary>Sends <paramref name="command"/> until cli_mt prints one of <paramref name="accepted"/> after it (a try during the reconnect may fail).</summary>
    private static async Task RetryStepAsync(ExternalProcess cli, string command, params string[] accepted)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            var (outFrom, errFrom) = (cli.StdOut.Length, cli.StdErr.Length);
            await cli.WriteLineAsync(command);
            var answered = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (DateTime.UtcNow < answered)
            {
                if (accepted.Any(a => cli.StdOut[outFrom..].Contains(a, StringComparison.Ordinal) || cli.StdErr[errFrom..].Contains(a, StringComparison.Ordinal)))
                    return;
                await Task.Delay(50);   // a condition poll of another process's output, with a deadline
            }

            Assert.True(DateTime.UtcNow < until, $"expected '{command}' to print one of [{string.Join(" | ", accepted)}] within {Deadline}:\n{cli.Transcript}");
        }
    }
}
