using System.Buffers;
using System.Runtime.CompilerServices;
using MessagePack;
using Zk.Embedded.Api;
using Zk.Embedded.Processing;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Ensemble;

/// <summary>
/// The bodies of <see cref="Consensus.ForwardedRequest"/> and <see cref="Consensus.ForwardedReply"/>: a pipeline request
/// with the identities it is checked against (ZooKeeper's REQUEST carries the connection's authinfo too), and the
/// leader's answer to one that made no txn. MessagePack field by field, as <see cref="Consensus.MessageCodec"/>; every
/// decoding failure is an <see cref="InvalidDataException"/>.
/// </summary>
/// <remarks>
/// <code>
/// request = [ kind, ids=[[scheme, id]...] | nil, field... ]   kinds: 1 create 2 delete 5 setData 7 setAcl 9 sync
///   14 multi 106 addWatch 100 addAuth 18 removeWatches -10 createSession -11 closeSession (ZooKeeper's OpCodes)
/// reply   = [ error, zxid, multiErrors=[code...] | nil ]
/// </code>
/// </remarks>
internal static class ForwardCodec
{
    public static byte[] EncodeRequest(PipelineRequest request, IReadOnlyList<Id>? ids)
    {
        var buffer = ScratchBuffer.Take();
        var w = new MessagePackWriter(buffer);
        w.WriteArrayHeader(2 + FieldCount(request));
        w.Write(KindOf(request));
        WriteIds(ref w, ids);
        WriteFields(ref w, request);
        w.Flush();
        return ScratchBuffer.ToArrayAndReturn(buffer);
    }

    public static (PipelineRequest Request, IReadOnlyList<Id>? Ids) DecodeRequest(ReadOnlyMemory<byte> body)
    {
        try
        {
            var r = new MessagePackReader(body);
            var count = r.ReadArrayHeader();
            var kind = r.ReadInt32();
            var ids = ReadIds(ref r);
            var request = ReadFields(ref r, kind);
            Expect(count == 2 + FieldCount(request) && r.End, $"a forwarded request of kind {kind} with {count} elements");
            return (request, ids);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"undecodable forwarded request: {e.Message}", e);
        }
    }

    public static byte[] EncodeReply(in Reply reply)
    {
        var buffer = ScratchBuffer.Take();
        var w = new MessagePackWriter(buffer);
        w.WriteArrayHeader(3);
        w.Write((int)reply.Error);
        w.Write(reply.Zxid.Value);
        if (reply.Value is IReadOnlyList<OpResult> results && results.All(x => x is ErrorResult))
        {
            w.WriteArrayHeader(results.Count);
            foreach (var result in results)
                w.Write((int)((ErrorResult)result).Code);
        }
        else
        {
            w.WriteNil();
        }

        w.Flush();
        return ScratchBuffer.ToArrayAndReturn(buffer);
    }

    public static ForwardedAnswer DecodeReply(ReadOnlyMemory<byte> body)
    {
        try
        {
            var r = new MessagePackReader(body);
            Expect(r.ReadArrayHeader() == 3, "a forwarded reply has three elements");
            var error = (ZkErrorCode)r.ReadInt32();
            var zxid = new Zxid(r.ReadInt64());
            ZkErrorCode[]? multi = null;
            if (!r.TryReadNil())
            {
                multi = new ZkErrorCode[r.ReadArrayHeader()];
                for (var i = 0; i < multi.Length; i++)
                    multi[i] = (ZkErrorCode)r.ReadInt32();
            }

            Expect(r.End, "bytes after a forwarded reply");
            return new ForwardedAnswer(error, zxid, multi);
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            throw new InvalidDataException($"undecodable forwarded reply: {e.Message}", e);
        }
    }

    private static int KindOf(PipelineRequest request) => request switch
    {
        CreateRequest => 1,
        DeleteRequest => 2,
        SetDataRequest => 5,
        SetAclRequest => 7,
        SyncRequest => 9,
        MultiRequest => 14,
        AddAuthRequest => 100,
        AddWatchRequest => 106,
        RemoveWatchesRequest => 18,
        CreateSessionRequest => -10,
        CloseSessionRequest => -11,
        _ => throw new ArgumentException($"{request.GetType().Name} is never forwarded", nameof(request)),
    };

    private static int FieldCount(PipelineRequest request) => request switch
    {
        CreateRequest => 6,
        SetDataRequest or SetAclRequest or RemoveWatchesRequest => 3,
        DeleteRequest or AddAuthRequest or AddWatchRequest => 2,
        _ => 1,
    };

    private static void WriteFields(ref MessagePackWriter w, PipelineRequest request)
    {
        switch (request)
        {
            case CreateRequest c:
                w.Write(c.Path); Bytes(ref w, c.Data); WriteAcl(ref w, c.Acl); w.Write((int)c.Mode); w.Write(c.Ttl); w.Write(c.ReturnStat);
                break;
            case DeleteRequest d:
                w.Write(d.Path); w.Write(d.Version);
                break;
            case SetDataRequest s:
                w.Write(s.Path); Bytes(ref w, s.Data); w.Write(s.Version);
                break;
            case SetAclRequest a:
                w.Write(a.Path); WriteAcl(ref w, a.Acl); w.Write(a.Version);
                break;
            case SyncRequest s:
                w.Write(s.Path);
                break;
            case MultiRequest m:
                w.WriteArrayHeader(m.Ops.Count);
                foreach (var op in m.Ops)
                    WriteOp(ref w, op);
                break;
            case AddAuthRequest a:
                w.Write(a.Scheme); Bytes(ref w, a.Auth);
                break;
            case AddWatchRequest a:
                w.Write(a.Path); w.Write((int)a.Mode);
                break;
            case RemoveWatchesRequest rw:
                w.Write(rw.Path); w.Write((int)rw.Type); w.Write(rw.CheckOnly);
                break;
            case CreateSessionRequest cs:
                w.Write(cs.TimeoutMillis);
                break;
            case CloseSessionRequest cl:
                w.Write(cl.Expired);
                break;
        }
    }

    private static PipelineRequest ReadFields(ref MessagePackReader r, int kind) => kind switch
    {
        1 => new CreateRequest(Text(ref r), ReadBytes(ref r), ReadAcl(ref r), (CreateMode)r.ReadInt32(), r.ReadInt64(), r.ReadBoolean()),
        2 => new DeleteRequest(Text(ref r), r.ReadInt32()),
        5 => new SetDataRequest(Text(ref r), ReadBytes(ref r), r.ReadInt32()),
        7 => new SetAclRequest(Text(ref r), ReadAcl(ref r), r.ReadInt32()),
        9 => new SyncRequest(Text(ref r)),
        14 => new MultiRequest(ReadOps(ref r)),
        100 => new AddAuthRequest(Text(ref r), ReadBytes(ref r) ?? []),
        106 => new AddWatchRequest(Text(ref r), (AddWatchMode)r.ReadInt32()),
        18 => new RemoveWatchesRequest(Text(ref r), (WatcherType)r.ReadInt32(), r.ReadBoolean()),
        -10 => new CreateSessionRequest(r.ReadInt32()),
        -11 => new CloseSessionRequest(r.ReadBoolean()),
        _ => throw new InvalidDataException($"undecodable forwarded request: unknown kind {kind}"),
    };

    private static void WriteOp(ref MessagePackWriter w, Op op)
    {
        switch (op)
        {
            case CreateOp c:
                w.WriteArrayHeader(6); w.Write(1); w.Write(c.Path); Bytes(ref w, c.Data); WriteAcl(ref w, c.Acl); w.Write((int)c.Mode); w.Write(c.Ttl);
                break;
            case DeleteOp d:
                w.WriteArrayHeader(3); w.Write(2); w.Write(d.Path); w.Write(d.Version);
                break;
            case SetDataOp s:
                w.WriteArrayHeader(4); w.Write(5); w.Write(s.Path); Bytes(ref w, s.Data); w.Write(s.Version);
                break;
            case CheckOp k:
                w.WriteArrayHeader(3); w.Write(13); w.Write(k.Path); w.Write(k.Version);
                break;
            default:
                // A read inside a multi: the leader's builder refuses it with BadArguments, as it would locally.
                w.WriteArrayHeader(2); w.Write(0); w.Write(op.Path);
                break;
        }
    }

    private static Op[] ReadOps(ref MessagePackReader r)
    {
        var ops = new Op[r.ReadArrayHeader()];
        for (var i = 0; i < ops.Length; i++)
        {
            r.ReadArrayHeader();
            ops[i] = r.ReadInt32() switch
            {
                1 => new CreateOp(Text(ref r), ReadBytes(ref r), ReadAcl(ref r), (CreateMode)r.ReadInt32(), r.ReadInt64()),
                2 => new DeleteOp(Text(ref r), r.ReadInt32()),
                5 => new SetDataOp(Text(ref r), ReadBytes(ref r), r.ReadInt32()),
                13 => new CheckOp(Text(ref r), r.ReadInt32()),
                _ => new GetDataOp(Text(ref r)),
            };
        }

        return ops;
    }

    private static void WriteIds(ref MessagePackWriter w, IReadOnlyList<Id>? ids)
    {
        if (ids is null)
        {
            w.WriteNil();
            return;
        }

        w.WriteArrayHeader(ids.Count);
        foreach (var id in ids)
        {
            w.Write(id.Scheme); w.Write(id.Identity);
        }
    }

    private static Id[]? ReadIds(ref MessagePackReader r)
    {
        if (r.TryReadNil())
            return null;
        var ids = new Id[r.ReadArrayHeader()];
        for (var i = 0; i < ids.Length; i++)
            ids[i] = new Id(Text(ref r), Text(ref r));
        return ids;
    }

    private static void WriteAcl(ref MessagePackWriter w, IReadOnlyList<Acl>? acl)
    {
        if (acl is null)
        {
            w.WriteNil();
            return;
        }

        w.WriteArrayHeader(acl.Count);
        foreach (var entry in acl)
        {
            w.Write((int)entry.Perms); w.Write(entry.Id?.Scheme); w.Write(entry.Id?.Identity);
        }
    }

    private static Acl[] ReadAcl(ref MessagePackReader r)
    {
        if (r.TryReadNil())
            return null!; // as the client sent it: the builder refuses a missing ACL with InvalidACL
        var acl = new Acl[r.ReadArrayHeader()];
        for (var i = 0; i < acl.Length; i++)
            acl[i] = new Acl((Perms)r.ReadInt32(), new Id(Text(ref r), Text(ref r)));
        return acl;
    }

    private static void Bytes(ref MessagePackWriter w, byte[]? data)
    {
        if (data is null)
            w.WriteNil();
        else
            w.Write(data);
    }

    private static byte[]? ReadBytes(ref MessagePackReader r) => r.TryReadNil() ? null : r.ReadBytes()!.Value.ToArray();

    private static string Text(ref MessagePackReader r) => r.ReadString()!;

    private static void Expect(bool condition, string what)
    {
        if (!condition)
            throw new InvalidDataException($"undecodable forwarded request: {what}");
    }

    private static void Expect(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureText what)
    {
        if (!condition)
            throw new InvalidDataException($"undecodable forwarded request: {what.ToString()}");
    }
}

/// <summary>The leader's answer to a forwarded request that made no txn, as a follower decodes it.</summary>
internal sealed record ForwardedAnswer(ZkErrorCode Error, Zxid Zxid, ZkErrorCode[]? MultiErrors)
{
    /// <summary>
    /// The reply for <paramref name="request"/>: the follower rebuilds the value (sync's path, a failed multi's results);
    /// the state is the follower's own, set when it answers (once it has published <see cref="Zxid"/>).
    /// </summary>
    public Reply ToReply(PipelineRequest request)
    {
        object? value = request is SyncRequest sync && Error == ZkErrorCode.Ok ? sync.Path : null;
        if (MultiErrors is { } errors)
            value = Array.ConvertAll(errors, code => (OpResult)new ErrorResult(code));
        return new Reply(Error, Error == ZkErrorCode.Ok ? null : request.ErrorPath, value, Zxid, null!);
    }
}
