using Zk.Embedded.Api;
using Zk.Embedded.Sessions;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Processing;

/// <summary>Limits that shape which requests are valid.</summary>
/// <param name="MaxDataBytes">largest znode data (jute.maxbuffer).</param>
/// <param name="ExtendedTypesEnabled">TTL nodes allowed (zookeeper.extendedTypesEnabled).</param>
/// <param name="SuperDigest">"super:base64(sha1)" whose digest auth makes a session super (zookeeper.DigestAuthenticationProvider.superDigest).</param>
internal sealed record PeerLimits(int MaxDataBytes, bool ExtendedTypesEnabled, string? SuperDigest)
{
    /// <summary>The largest request in process: jute.maxbuffer plus <see cref="RequestSize.FrameSlackBytes"/> (room beside data of the largest size).</summary>
    public long MaxRequestBytes => RequestSize.Limit(MaxDataBytes);
}

/// <summary>The outcome of preparing one request: a txn to commit, or an error, or neither (nothing to change).</summary>
internal readonly record struct Prepared(TxnOp? Op, ZkErrorCode Error, IReadOnlyList<OpResult>? MultiResults);

/// <summary>
/// Turns a write request into a txn against the state it will apply to, with ZooKeeper's checks in ZooKeeper's
/// order (<c>PrepRequestProcessor</c>). Failures are results, not exceptions. Runs on the one thread that orders writes.
/// </summary>
internal sealed class TxnBuilder(AclCache acls, PeerLimits limits)
{
    /// <param name="ids">the identities the request carries: its connection's when it arrived (ZooKeeper's <c>Request.authInfo</c>).</param>
    public Prepared Prepare(TreeState state, ServerSession session, IReadOnlyList<Id> ids, PipelineRequest request, Zxid zxid, long time)
    {
        switch (request)
        {
            case CreateSessionRequest create:
                return new Prepared(new CreateSessionTxn(create.TimeoutMillis), ZkErrorCode.Ok, null);
            case CloseSessionRequest:
                return new Prepared(state.Sessions.ContainsKey(session.SessionId) ? CloseSessionTxn.Instance : null, ZkErrorCode.Ok, null);
            case DeleteContainerRequest deleteContainer:
                return Single(BuildDeleteContainer(state, deleteContainer.Path, out var containerOp), containerOp);
        }

        // A session is live from its createSession txn to its closeSession txn; requests queued before the close still apply.
        if (!session.IsSystem && !state.Sessions.ContainsKey(session.SessionId))
        {
            return new Prepared(null, ZkErrorCode.SessionExpired, null);
        }

        if (request is CreateRequest or SetDataRequest or SetAclRequest or MultiRequest && RequestSize.Of(request) > limits.MaxRequestBytes)
        {
            // Larger than any frame the client port takes; in process the API edge says so with the sizes.
            return new Prepared(null, ZkErrorCode.BadArguments, null);
        }

        switch (request)
        {
            case MultiRequest multi:
                return PrepareMulti(state, session, ids, multi.Ops, zxid, time);
            case SyncRequest or AddWatchRequest or RemoveWatchesRequest:
                return new Prepared(null, PathRules.Validate(request.ErrorPath) is null ? ZkErrorCode.Ok : ZkErrorCode.BadArguments, null);
        }

        var error = Build(state, session, ids, request, out var op);
        return Single(error, op);
    }

    private static Prepared Single(ZkErrorCode error, TxnOp? op) => error == ZkErrorCode.Ok ? new Prepared(op, error, null) : new Prepared(null, error, null);

    private ZkErrorCode Build(TreeState state, ServerSession session, IReadOnlyList<Id> ids, PipelineRequest request, out TxnOp? op)
    {
        switch (request)
        {
            case CreateRequest c:
                return BuildCreate(state, session, ids, c.Path, c.Data, c.Acl, c.Mode, c.Ttl, out op);
            case DeleteRequest d:
                return BuildDelete(state, session, ids, d.Path, d.Version, out op);
            case SetDataRequest s:
                return BuildSetData(state, session, ids, s.Path, s.Data, s.Version, out op);
            case SetAclRequest a:
                return BuildSetAcl(state, session, ids, a.Path, a.Acl, a.Version, out op);
            default:
                op = null;
                return ZkErrorCode.Unimplemented;
        }
    }

    private Prepared PrepareMulti(TreeState state, ServerSession session, IReadOnlyList<Id> ids, IReadOnlyList<Op> ops, Zxid zxid, long time)
    {
        if (ops.Count == 0)
        {
            return new Prepared(null, ZkErrorCode.Ok, []);
        }

        var txnOps = new TxnOp[ops.Count];
        var results = new OpResult[ops.Count];
        for (var i = 0; i < ops.Count; i++)
        {
            var error = BuildOp(state, session, ids, ops[i], out var op);
            if (error == ZkErrorCode.MarshallingError)
            {
                // ZooKeeper's multi catches KeeperExceptions per op; the NullPointerException behind MarshallingError
                // escapes to pRequest's catch-all, which fails the whole multi, with no per-op results.
                return new Prepared(null, error, null);
            }

            if (error != ZkErrorCode.Ok)
            {
                return new Prepared(null, error, FailedMultiResults(ops.Count, i, error));
            }

            txnOps[i] = op!;
            // Later ops see the earlier ones, as in ZooKeeper's outstanding-change records; each result shows the
            // state right after its own op, as ZooKeeper's per-op results do.
            state = TxnApplier.Apply(state, new Txn(zxid, session.SessionId, time, op!), null);
            results[i] = TxnResults.OfMultiOp(op!, state);
        }

        return new Prepared(new MultiTxn(txnOps), ZkErrorCode.Ok, results);
    }

    private ZkErrorCode BuildOp(TreeState state, ServerSession session, IReadOnlyList<Id> ids, Op op, out TxnOp? txnOp)
    {
        switch (op)
        {
            case CreateOp c:
                return BuildCreate(state, session, ids, c.Path, c.Data, c.Acl, c.Mode, c.Ttl, out txnOp);
            case DeleteOp d:
                return BuildDelete(state, session, ids, d.Path, d.Version, out txnOp);
            case SetDataOp s:
                return BuildSetData(state, session, ids, s.Path, s.Data, s.Version, out txnOp);
            case CheckOp check:
                return BuildCheck(state, session, ids, check.Path, check.Version, out txnOp);
            default:
                // Reads do not mix with writes in a multi (MultiOperationRecord).
                txnOp = null;
                return ZkErrorCode.BadArguments;
        }
    }

    /// <summary>ZooKeeper's per-op results of a failed multi: rolled back (0), the failure, then RuntimeInconsistency.</summary>
    internal static OpResult[] FailedMultiResults(int count, int failedIndex, ZkErrorCode error)
    {
        var results = new OpResult[count];
        for (var i = 0; i < count; i++)
        {
            results[i] = new ErrorResult(i < failedIndex ? ZkErrorCode.Ok : i == failedIndex ? error : ZkErrorCode.RuntimeInconsistency);
        }

        return results;
    }

    private ZkErrorCode BuildCreate(TreeState state, ServerSession session, IReadOnlyList<Id> ids, string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl, out TxnOp? op)
    {
        op = null;
        if (!CreateModeExtensions.TryFromFlag((int)mode, out _))
        {
            return ZkErrorCode.BadArguments;
        }

        if (mode.IsTtl() && !limits.ExtendedTypesEnabled)
        {
            return ZkErrorCode.Unimplemented;
        }

        if (mode.IsTtl() ? ttl <= 0 || ttl > ZNode.MaxTtl : ttl >= 0)
        {
            return ZkErrorCode.BadArguments;
        }

        // A sequential create may end in '/': the suffix makes the name (the Java client validates path + "1").
        if (path is null || PathRules.Validate(mode.IsSequential() ? path + "1" : path) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        if (path == "/" && !mode.IsSequential())
        {
            return ZkErrorCode.NodeExists;
        }

        if (data is not null && data.Length > limits.MaxDataBytes)
        {
            return ZkErrorCode.BadArguments;
        }

        var aclError = AccessControl.Fixup(acl, ids, out var fixedAcl);
        if (aclError != ZkErrorCode.Ok)
        {
            return aclError;
        }

        var parentPath = PathRules.Parent(path);
        var parent = state.Find(parentPath);
        if (parent is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (!AccessControl.IsAllowed(parent.Acl, Perms.Create, ids))
        {
            return ZkErrorCode.NoAuth;
        }

        if (mode.IsSequential())
        {
            path += PathRules.SequenceSuffix(parent.CreateCount);
        }

        if (state.Find(path) is not null)
        {
            return ZkErrorCode.NodeExists;
        }

        if (parent.OwnerSession != default)
        {
            return ZkErrorCode.NoChildrenForEphemerals;
        }

        var owner = mode.IsContainer() ? ZNode.ContainerOwner
            : mode.IsTtl() ? ZNode.TtlMask | ttl
            : mode.IsEphemeral() ? session.SessionId.Value
            : 0;
        op = new CreateTxn(path, data, acls.Intern(fixedAcl!), owner, parent.CreateCount + 1);
        return ZkErrorCode.Ok;
    }

    private static ZkErrorCode BuildDelete(TreeState state, ServerSession session, IReadOnlyList<Id> ids, string path, int version, out TxnOp? op)
    {
        op = null;
        if (PathRules.Validate(path) is not null || PathRules.IsSpecial(path))
        {
            return ZkErrorCode.BadArguments;
        }

        var parent = state.Find(PathRules.Parent(path));
        if (parent is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (!AccessControl.IsAllowed(parent.Acl, Perms.Delete, ids))
        {
            return ZkErrorCode.NoAuth;
        }

        var node = parent.Children.Find(PathRules.Name(path));
        if (node is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (version != -1 && version != node.Version)
        {
            return ZkErrorCode.BadVersion;
        }

        if (node.Children.Count > 0)
        {
            return ZkErrorCode.NotEmpty;
        }

        op = new DeleteTxn(path);
        return ZkErrorCode.Ok;
    }

    private static ZkErrorCode BuildDeleteContainer(TreeState state, string path, out TxnOp? op)
    {
        op = null;
        if (PathRules.Validate(path) is not null || PathRules.IsSpecial(path))
        {
            return ZkErrorCode.BadArguments;
        }

        var node = state.Find(path);
        if (node is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (node.Children.Count > 0)
        {
            return ZkErrorCode.NotEmpty;
        }

        if (!node.IsContainer && !node.IsTtl)
        {
            // PrepRequestProcessor answers BadVersion when the node is not a container or TTL node any more.
            return ZkErrorCode.BadVersion;
        }

        op = new DeleteTxn(path);
        return ZkErrorCode.Ok;
    }

    private ZkErrorCode BuildSetData(TreeState state, ServerSession session, IReadOnlyList<Id> ids, string path, byte[]? data, int version, out TxnOp? op)
    {
        op = null;
        if (PathRules.Validate(path) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        if (data is not null && data.Length > limits.MaxDataBytes)
        {
            return ZkErrorCode.BadArguments;
        }

        var node = state.Find(path);
        if (node is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (!AccessControl.IsAllowed(node.Acl, Perms.Write, ids))
        {
            return ZkErrorCode.NoAuth;
        }

        if (!TryNextVersion(node.Version, version, out var next))
        {
            return ZkErrorCode.BadVersion;
        }

        op = new SetDataTxn(path, data, next);
        return ZkErrorCode.Ok;
    }

    private ZkErrorCode BuildSetAcl(TreeState state, ServerSession session, IReadOnlyList<Id> ids, string path, IReadOnlyList<Acl> acl, int version, out TxnOp? op)
    {
        op = null;
        if (PathRules.Validate(path) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        var aclError = AccessControl.Fixup(acl, ids, out var fixedAcl);
        if (aclError != ZkErrorCode.Ok)
        {
            return aclError;
        }

        var node = state.Find(path);
        if (node is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (!AccessControl.IsAllowed(node.Acl, Perms.Admin, ids))
        {
            return ZkErrorCode.NoAuth;
        }

        if (!TryNextVersion(node.Aversion, version, out var next))
        {
            return ZkErrorCode.BadVersion;
        }

        op = new SetAclTxn(path, acls.Intern(fixedAcl!), next);
        return ZkErrorCode.Ok;
    }

    private static ZkErrorCode BuildCheck(TreeState state, ServerSession session, IReadOnlyList<Id> ids, string path, int version, out TxnOp? op)
    {
        op = null;
        if (PathRules.Validate(path) is not null)
        {
            return ZkErrorCode.BadArguments;
        }

        var node = state.Find(path);
        if (node is null)
        {
            return ZkErrorCode.NoNode;
        }

        if (!AccessControl.IsAllowed(node.Acl, Perms.Read, ids))
        {
            return ZkErrorCode.NoAuth;
        }

        if (version != -1 && version != node.Version)
        {
            return ZkErrorCode.BadVersion;
        }

        op = new CheckTxn(path);
        return ZkErrorCode.Ok;
    }

    /// <summary>
    /// <c>PrepRequestProcessor.checkAndIncVersion</c>: -1 matches any version; the version after int.MaxValue wraps
    /// to int.MinValue, and the one after -2 skips -1 (ZOOKEEPER-4743), since -1 means "any".
    /// </summary>
    private static bool TryNextVersion(int current, int expected, out int next)
    {
        next = unchecked(current + 1);
        if (next == -1)
        {
            next = 0;
        }

        return expected == -1 || expected == current;
    }
}
