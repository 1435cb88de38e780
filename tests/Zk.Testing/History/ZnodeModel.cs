using Zk.Embedded.Api;

namespace Zk.Testing.History;

/// <summary>
/// One znode as the linearizability search models it: whether it exists, its data version and its data, each possibly
/// not known yet. A history starts with every path unknown (it may have been made before recording began), and the
/// first operations that observe it pin it down; so a path's first observation is never a violation by itself.
/// </summary>
internal readonly record struct ZnodeState(sbyte Exists, int Version, string? Data)
{
    public static readonly ZnodeState Unknown = new(-1, -1, null);
    private static readonly ZnodeState Absent = new(0, -1, null);

    /// <summary>Where <paramref name="op"/> can run in <paramref name="state"/>, the state after it.</summary>
    public static bool Step(RecordedOperation op, ZnodeState state, out ZnodeState next)
    {
        next = state;
        var refused = op.Outcome == RecordedOutcome.Refused;
        switch (op.Kind)
        {
            case RecordedKind.Create when !refused:
                next = new ZnodeState(1, 0, op.Data);
                return state.Exists != 1;
            case RecordedKind.Delete when !refused:
                next = Absent;
                return state.Exists != 0 && VersionIs(state, op.Version, out _);
            case RecordedKind.SetData when !refused:
                if (state.Exists == 0 || !VersionIs(state, op.Version, out var before))
                    return false;
                if (op.Stat is { } written)
                {
                    // The new stat's version is the old one plus one.
                    if (before.Version >= 0 && before.Version != written.Version - 1)
                        return false;
                    next = new ZnodeState(1, written.Version, op.Data);
                    return true;
                }

                next = new ZnodeState(1, before.Version >= 0 ? before.Version + 1 : -1, op.Data);
                return true;
            case RecordedKind.Check:
                return state.Exists != 0 && VersionIs(state, op.Version, out next);
            case RecordedKind.LinearizableRead when op.Stat is { } seen:
                // An exists reads no data (Data null); a getData of null data is told apart by the write that made it.
                if (state.Exists == 0 || !VersionIs(state, seen.Version, out next) || (op.Data is not null && next.Data is { } data && data != op.Data))
                    return false;
                next = next with { Data = op.Data ?? next.Data };
                return true;
            case RecordedKind.LinearizableRead:
                next = Absent;
                return state.Exists != 1;
            default:
                // A refusal: an observation that changed nothing.
                return op.Error switch
                {
                    ZkErrorCode.NoNode => Observe(state, exists: false, out next),
                    ZkErrorCode.NodeExists or ZkErrorCode.NotEmpty => Observe(state, exists: true, out next),
                    ZkErrorCode.BadVersion => state.Exists != 0 && (state.Version < 0 || state.Version != op.Version) && Observe(state, exists: true, out next),
                    _ => true,
                };
        }
    }

    private static bool Observe(ZnodeState state, bool exists, out ZnodeState next)
    {
        next = exists ? state with { Exists = 1 } : Absent;
        return state.Exists != (exists ? 0 : 1);
    }

    /// <summary>True where the state's version can be <paramref name="version"/> (−1: any); pins it if it was unknown.</summary>
    private static bool VersionIs(ZnodeState state, int version, out ZnodeState next)
    {
        next = state with { Exists = 1 };
        if (version < 0)
            return true;
        if (state.Version >= 0)
            return state.Version == version;
        next = next with { Version = version };
        return true;
    }
}
