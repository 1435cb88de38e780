namespace Zk.Embedded;

/// <summary>A change of an ensemble member's role, raised by <see cref="ZkPeer.LeadershipChanged"/>.</summary>
/// <param name="Mode">the member's place now.</param>
/// <param name="LeaderId">the established leader's id, or null while there is none.</param>
/// <param name="Epoch">the established epoch, or null while there is none.</param>
public sealed record LeadershipChangedEventArgs(PeerMode Mode, int? LeaderId, uint? Epoch)
{
    /// <summary>True when this member leads an established epoch.</summary>
    public bool IsLeader => Mode == PeerMode.Leader;
}
