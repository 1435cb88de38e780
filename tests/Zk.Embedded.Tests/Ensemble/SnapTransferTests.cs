using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using Zk.Embedded.Api;
using Zk.Embedded.Consensus;
using Zk.Embedded.Ensemble;
using Zk.Embedded.Tests.Storage;
using Zk.Embedded.Transport;
using Zk.Transport.InMemory;

namespace Zk.Embedded.Tests.Ensemble;

/// <summary>
/// The chunked SNAP on real files and a real in-memory transport (issue 13 point c): chunks under a small message
/// bound and a tiny queue (flow control: a refused chunk is offered again), assembled into a spool file in the data
/// directory and installed by a rename; a transfer cut mid-way (the leader lost, a gap, or a crash) leaves the
/// learner's state as it was and no partial file behind.
/// </summary>
public sealed class SnapTransferTests(ITestOutputHelper output) : IDisposable
{
    private const int MaxMessageBytes = 4096;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly Zxid SnapZxid = new(2, 7);
    private readonly TempDirectory _dir = new();
    private long _seq;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_SNAP_in_chunks_is_assembled_on_disk_and_installed_by_a_rename_into_the_data_directory()
    {
        var bytes = RandomSnapshot(200_000);
        await using var network = Network();
        var leader = network.Join(1);
        using var sender = new SnapTransfers(leader, new SnapshotSpool(null), 1, 100, NullLogger.Instance);
        using var store = Store();
        var endpoint = network.Join(2);
        using var receiver = new SnapTransfers(endpoint, new SnapshotSpool(store.SpoolDirectory), 2, 100, NullLogger.Instance);

        sender.Start(2, new ConsensusSnapshot(SnapZxid, bytes), now: 0);
        var (body, chunks) = await ReceiveAsync(leader, endpoint, receiver, sender, stopAfter: int.MaxValue);
        Assert.NotNull(body);
        Assert.True(chunks >= bytes.Length / MaxMessageBytes, $"expected at least {bytes.Length / MaxMessageBytes} chunks, got {chunks}");
        Assert.Equal(_dir.Path, Path.GetDirectoryName(body!.Path));

        store.Write(new InstallSnapshot(++_seq, new ConsensusSnapshot(SnapZxid, ReadOnlyMemory<byte>.Empty) { Body = body }, 2));
        store.Sync();
        store.Dispose();
        Assert.False(File.Exists(body.Path), $"expected the spool file {body.Path} renamed into place");
        using var reopened = DurableConsensusStore.Open(_dir.Path);
        Assert.Equal(SnapZxid, reopened.Load().SnapshotZxid);
        Assert.True(bytes.AsSpan().SequenceEqual(SnapshotBody.BytesOf(reopened.Snapshot!).Span), "expected the installed snapshot to hold the bytes sent");
    }

    [Fact]
    public async Task A_learner_that_loses_its_leader_mid_SNAP_deletes_the_partial_file_and_keeps_its_state()
    {
        await using var network = Network();
        var leader = network.Join(1);
        using var sender = new SnapTransfers(leader, new SnapshotSpool(null), 1, 100, NullLogger.Instance);
        using var store = Store();
        var before = Describe(store);
        var endpoint = network.Join(2);
        using var receiver = new SnapTransfers(endpoint, new SnapshotSpool(store.SpoolDirectory), 2, 100, NullLogger.Instance);

        sender.Start(2, new ConsensusSnapshot(SnapZxid, RandomSnapshot(100_000)), now: 0);
        var (body, _) = await ReceiveAsync(leader, endpoint, receiver, sender, stopAfter: 10);
        Assert.Null(body);
        Assert.True(SpoolFiles().Length == 1, $"expected one partial spool file mid-transfer, found [{string.Join(", ", SpoolFiles())}]");

        receiver.PeerLost(1);
        Assert.True(SpoolFiles().Length == 0, $"expected the partial file deleted once the leader is lost, found [{string.Join(", ", SpoolFiles())}]");
        Assert.Equal(before, Describe(store));
    }

    [Fact]
    public async Task A_chunk_that_does_not_continue_the_transfer_discards_it()
    {
        await using var network = Network();
        using var store = Store();
        using var receiver = new SnapTransfers(network.Join(2), new SnapshotSpool(store.SpoolDirectory), 2, 100, NullLogger.Instance);
        Assert.Null(receiver.Receive(1, new SnapChunk(SnapZxid, 0, 30, new byte[10])));
        Assert.Single(SpoolFiles());

        // The chunk at 10 was lost: the one at 20 cannot continue, nor can anything after it.
        Assert.Null(receiver.Receive(1, new SnapChunk(SnapZxid, 20, 30, new byte[10])));
        Assert.Empty(SpoolFiles());
        Assert.Null(receiver.Receive(1, new SnapChunk(SnapZxid, 10, 30, new byte[20])));
        Assert.Empty(SpoolFiles());
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_crash_mid_SNAP_leaves_the_old_state_and_the_partial_file_is_removed_at_start()
    {
        await using var network = Network();
        var leader = network.Join(1);
        using var sender = new SnapTransfers(leader, new SnapshotSpool(null), 1, 100, NullLogger.Instance);
        var store = Store();
        var before = Describe(store);
        var endpoint = network.Join(2);
        var receiver = new SnapTransfers(endpoint, new SnapshotSpool(store.SpoolDirectory), 2, 100, NullLogger.Instance);
        sender.Start(2, new ConsensusSnapshot(SnapZxid, RandomSnapshot(100_000)), now: 0);
        await ReceiveAsync(leader, endpoint, receiver, sender, stopAfter: 10);
        store.CloseLikeACrash(); // the process dies: the receiver never discards its file
        Assert.Single(SpoolFiles());

        using var reopened = DurableConsensusStore.Open(_dir.Path);
        Assert.True(SpoolFiles().Length == 0, $"expected the partial file removed at start, found [{string.Join(", ", SpoolFiles())}]");
        Assert.Equal(before, Describe(reopened));
        GC.KeepAlive(receiver);
    }

    private string[] SpoolFiles() => Directory.GetFiles(_dir.Path, "snap-*.part");

    private static InMemoryNetwork Network() =>
        // Four queued messages at most: the sender must wait for the receiver, not lose chunks.
        new(new InMemoryNetworkOptions { Seed = 1, Limits = new TransportLimits { MaxMessageBytes = MaxMessageBytes, QueueMessages = 4 } });

    /// <summary>A learner's store with history: epoch 1, a snapshot at (1,2) and the log to (1,4).</summary>
    private DurableConsensusStore Store()
    {
        var store = DurableConsensusStore.Open(_dir.Path);
        store.Write(new WriteAcceptedEpoch(++_seq, 1));
        store.Write(new WriteCurrentEpoch(++_seq, 1));
        store.Write(new InstallSnapshot(++_seq, new ConsensusSnapshot(new Zxid(1, 2), new byte[] { 2 }), 1));
        foreach (var counter in new uint[] { 3, 4 })
            store.Write(new AppendTxn(++_seq, DurableConsensusStoreTests.TxnFor(new Zxid(1, counter))));
        store.Write(new WriteAcceptedEpoch(++_seq, 2));
        store.Sync();
        return store;
    }

    private static string Describe(DurableConsensusStore store)
    {
        var state = store.Load();
        return $"epochs {state.AcceptedEpoch}/{state.CurrentEpoch} snapshot {state.SnapshotZxid} [{Convert.ToHexString(SnapshotBody.BytesOf(store.Snapshot!).Span)}] log {string.Join(",", state.Log.Select(t => t.Zxid))}";
    }

    private byte[] RandomSnapshot(int length)
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"snapshot seed={seed}");
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Moves chunks from sender to receiver and acknowledgements back, as two drivers would, until the SNAP is
    /// assembled or <paramref name="stopAfter"/> chunks arrived.
    /// </summary>
    private static async Task<(SnapshotBody? Body, int Chunks)> ReceiveAsync(IPeerTransport leader, IPeerTransport learner,
        SnapTransfers receiver, SnapTransfers sender, int stopAfter)
    {
        using var cts = new CancellationTokenSource(Deadline);
        var chunks = 0;
        while (chunks < stopAfter)
        {
            var chunk = Assert.IsType<SnapChunk>(await NextAsync(learner, chunks, cts.Token));
            chunks++;
            var body = receiver.Receive(1, chunk);
            sender.Acked(2, Assert.IsType<SnapChunkAck>(await NextAsync(leader, chunks, cts.Token)), now: 0);
            if (body is not null)
                return (body, chunks);
        }

        return (null, chunks);
    }

    private static async Task<ZabMessage> NextAsync(IPeerTransport endpoint, int chunks, CancellationToken cancellationToken)
    {
        while (true)
        {
            TransportEvent e;
            try
            {
                e = await endpoint.Events.ReadAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"expected the SNAP's next message within {Deadline}; {chunks} chunks arrived");
                throw;
            }

            using (e)
            {
                if (e.Kind == TransportEventKind.Message)
                    return MessageCodec.Decode(e.Payload, MaxMessageBytes);
            }
        }
    }
}
