using Zk.Embedded.Api;

namespace Zk.Embedded.Tests.Semantics;

public sealed class SessionIdTests
{
    [Fact]
    public void The_initial_id_puts_the_server_id_in_the_top_byte_and_time_below_it_as_ZooKeeper_does()
    {
        // SessionTrackerImpl.initializeNextSessionId(3) at 1_700_000_000_000 ms, worked out by hand:
        // (millis << 24) >>> 8 keeps the low 40 bits of millis shifted up by 16; myid 3 lands in bits 56..63.
        const long millis = 1_700_000_000_000L;
        var expected = (3L << 56) | ((millis & 0xFF_FFFF_FFFFL) << 16);
        Assert.Equal(expected, SessionId.Initial(3, millis).Value);
        Assert.Equal(3, (int)((ulong)SessionId.Initial(3, millis).Value >> 56));
    }

    [Fact]
    public void The_initial_id_never_reads_as_the_container_marker_owner()
    {
        // server id 128 with time bits of zero would give 0x8000000000000000, ZooKeeper's container owner.
        Assert.Equal(long.MinValue + 1, SessionId.Initial(128, 0).Value);
    }

    [Fact]
    public void A_session_id_prints_as_ZooKeeper_hex()
    {
        Assert.Equal("0x100000a2b3c0000", new SessionId(0x100000a2b3c0000).ToString());
        Assert.Equal("0x0", default(SessionId).ToString());
    }

    [Fact]
    public void Next_is_one_past()
    {
        Assert.Equal(new SessionId(42), new SessionId(41).Next);
    }
}
