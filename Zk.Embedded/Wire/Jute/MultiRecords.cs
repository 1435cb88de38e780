using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

/// <summary>
/// Precedes each op of a multi request or result of a multi response. The list ends with
/// <see cref="End"/>: done = true, type -1, err -1 (<c>MultiOperationRecord</c>, <c>MultiResponse</c>).
/// </summary>
internal readonly record struct MultiHeader(OpCode Type, bool Done, int Err) : IJuteRecord<MultiHeader>
{
    public const int Bytes = 9;

    public static readonly MultiHeader End = new(OpCode.Error, true, -1);

    public static bool TryRead(ref JuteReader reader, out MultiHeader value)
    {
        if (!reader.TryReadInt(out var type) || !reader.TryReadBool(out var done) || !reader.TryReadInt(out var err))
        {
            value = default;
            return false;
        }

        value = new MultiHeader((OpCode)type, done, err);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt((int)Type);
        writer.WriteBool(Done);
        writer.WriteInt(Err);
    }
}

/// <summary>
/// One op of a multi with the opcode it came with, so create, create2, createContainer and createTTL stay apart:
/// the reply to a plain create carries no stat (<c>FinalRequestProcessor</c>, case multi).
/// </summary>
internal readonly record struct MultiOp(OpCode Type, Op Op)
{
    /// <summary>
    /// The opcode our client sends for <paramref name="op"/>: create2 for plain creates, so the result carries the
    /// stat that <see cref="CreateResult"/> promises; createContainer and createTTL for those modes, as Java's
    /// <c>Op.create</c> picks them.
    /// </summary>
    public static MultiOp ForClient(Op op) => op switch
    {
        CreateOp c when c.Mode.IsTtl() => new MultiOp(OpCode.CreateTtl, op),
        CreateOp c when c.Mode.IsContainer() => new MultiOp(OpCode.CreateContainer, op),
        CreateOp => new MultiOp(OpCode.Create2, op),
        DeleteOp => new MultiOp(OpCode.Delete, op),
        SetDataOp => new MultiOp(OpCode.SetData, op),
        CheckOp => new MultiOp(OpCode.Check, op),
        GetDataOp => new MultiOp(OpCode.GetData, op),
        GetChildrenOp => new MultiOp(OpCode.GetChildren, op),
        _ => throw new JuteException($"no multi opcode for {op.GetType().Name}"),
    };

    /// <summary>getData and getChildren are read ops (multiRead); the rest are writes (multi). One request never mixes them.</summary>
    public static bool IsRead(OpCode type) => type is OpCode.GetData or OpCode.GetChildren;
}

/// <summary>
/// The body of multi and multiRead: (MultiHeader, request)* then <see cref="MultiHeader.End"/>. Decodes into the Api's
/// <see cref="Op"/> records. Like <c>MultiOperationRecord.deserialize</c>, an unknown op type or a mix of read and
/// write ops is malformed. A null path becomes "" and a null ACL list an empty one: both are then refused by
/// Processing with the code Java gives them (BadArguments, InvalidACL). Create flags are kept unchecked, for the same
/// reason.
/// </summary>
internal readonly record struct MultiOperationRecord(IReadOnlyList<MultiOp> Ops) : IJuteRecord<MultiOperationRecord>
{
    public static bool TryRead(ref JuteReader reader, out MultiOperationRecord value)
    {
        value = default;
        var ops = new List<MultiOp>();
        var sawRead = false;
        var sawWrite = false;
        // Each pass consumes at least a 9-byte header, so the loop ends with the frame.
        while (true)
        {
            if (!MultiHeader.TryRead(ref reader, out var header))
            {
                return false;
            }

            if (header.Done)
            {
                break;
            }

            if (!TryReadOp(ref reader, header.Type, out var op))
            {
                return false;
            }

            sawRead |= MultiOp.IsRead(header.Type);
            sawWrite |= !MultiOp.IsRead(header.Type);
            if (sawRead && sawWrite)
            {
                return false;
            }

            ops.Add(new MultiOp(header.Type, op));
        }

        value = new MultiOperationRecord(ops);
        return true;
    }

    /// <summary>The ops alone, in order, as Processing takes them.</summary>
    public Op[] ToOps()
    {
        var ops = new Op[Ops.Count];
        for (var i = 0; i < ops.Length; i++)
        {
            ops[i] = Ops[i].Op;
        }

        return ops;
    }

    public void Write(ref JuteWriter writer)
    {
        var ops = Ops;
        for (var i = 0; i < ops.Count; i++)
        {
            var (type, op) = ops[i];
            new MultiHeader(type, false, -1).Write(ref writer);
            WriteOp(ref writer, type, op);
        }

        MultiHeader.End.Write(ref writer);
    }

    private static bool TryReadOp(ref JuteReader reader, OpCode type, out Op op)
    {
        op = null!;
        switch (type)
        {
            case OpCode.Create or OpCode.Create2 or OpCode.CreateContainer:
                if (!CreateRequest.TryRead(ref reader, out var c))
                {
                    return false;
                }

                op = new CreateOp(c.Path ?? "", c.Data, c.Acl ?? [], (CreateMode)c.Flags, -1);
                return true;
            case OpCode.CreateTtl:
                if (!CreateTtlRequest.TryRead(ref reader, out var t))
                {
                    return false;
                }

                op = new CreateOp(t.Path ?? "", t.Data, t.Acl ?? [], (CreateMode)t.Flags, t.Ttl);
                return true;
            case OpCode.Delete:
                if (!DeleteRequest.TryRead(ref reader, out var d))
                {
                    return false;
                }

                op = new DeleteOp(d.Path ?? "", d.Version);
                return true;
            case OpCode.SetData:
                if (!SetDataRequest.TryRead(ref reader, out var s))
                {
                    return false;
                }

                op = new SetDataOp(s.Path ?? "", s.Data, s.Version);
                return true;
            case OpCode.Check:
                if (!CheckVersionRequest.TryRead(ref reader, out var v))
                {
                    return false;
                }

                op = new CheckOp(v.Path ?? "", v.Version);
                return true;
            case OpCode.GetData:
                // The watch flag is read and dropped: multiRead sets no watches (MultiOperationRecord does the same).
                if (!GetDataRequest.TryRead(ref reader, out var g))
                {
                    return false;
                }

                op = new GetDataOp(g.Path ?? "");
                return true;
            case OpCode.GetChildren:
                if (!GetChildrenRequest.TryRead(ref reader, out var gc))
                {
                    return false;
                }

                op = new GetChildrenOp(gc.Path ?? "");
                return true;
            default:
                return false;
        }
    }

    private static void WriteOp(ref JuteWriter writer, OpCode type, Op op)
    {
        switch (type, op)
        {
            case (OpCode.Create or OpCode.Create2 or OpCode.CreateContainer, CreateOp c):
                new CreateRequest(c.Path, c.Data, c.Acl, (int)c.Mode).Write(ref writer);
                break;
            case (OpCode.CreateTtl, CreateOp c):
                new CreateTtlRequest(c.Path, c.Data, c.Acl, (int)c.Mode, c.Ttl).Write(ref writer);
                break;
            case (OpCode.Delete, DeleteOp d):
                new DeleteRequest(d.Path, d.Version).Write(ref writer);
                break;
            case (OpCode.SetData, SetDataOp s):
                new SetDataRequest(s.Path, s.Data, s.Version).Write(ref writer);
                break;
            case (OpCode.Check, CheckOp v):
                new CheckVersionRequest(v.Path, v.Version).Write(ref writer);
                break;
            case (OpCode.GetData, GetDataOp g):
                new GetDataRequest(g.Path, false).Write(ref writer);
                break;
            case (OpCode.GetChildren, GetChildrenOp g):
                new GetChildrenRequest(g.Path, false).Write(ref writer);
                break;
            default:
                JuteException.Throw($"a multi op of type {type} cannot carry {op.GetType().Name}");
                break;
        }
    }
}
