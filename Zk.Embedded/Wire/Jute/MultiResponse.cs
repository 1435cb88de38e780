using Zk.Embedded.Api;

namespace Zk.Embedded.Wire.Jute;

/// <summary>One result of a multi response with the type its header carries.</summary>
internal readonly record struct MultiResult(OpCode Type, OpResult Result)
{
    /// <summary>
    /// The header type ZooKeeper sends for <paramref name="result"/> of an op sent as <paramref name="requestType"/>:
    /// a create answers with path only when the op was plain create, and with path + stat for create2,
    /// createContainer and createTTL (<c>FinalRequestProcessor</c>, case multi; <c>OpResult.CreateResult</c>).
    /// </summary>
    public static MultiResult For(OpResult result, OpCode requestType) => result switch
    {
        CreateResult => new MultiResult(requestType == OpCode.Create ? OpCode.Create : OpCode.Create2, result),
        DeleteResult => new MultiResult(OpCode.Delete, result),
        SetDataResult => new MultiResult(OpCode.SetData, result),
        CheckResult => new MultiResult(OpCode.Check, result),
        GetDataResult => new MultiResult(OpCode.GetData, result),
        GetChildrenResult => new MultiResult(OpCode.GetChildren, result),
        ErrorResult => new MultiResult(OpCode.Error, result),
        _ => throw new JuteException($"no multi result encoding for {result.GetType().Name}"),
    };
}

/// <summary>
/// The body of a multi or multiRead reply: (MultiHeader, result)* then <see cref="MultiHeader.End"/>, each result in
/// its op's reply encoding (<c>MultiResponse.serialize</c>): create = path, create2 = path + stat, delete and check =
/// nothing, setData = stat, getData = data + stat, getChildren = names, error = err (also in the header's err).
/// </summary>
/// <remarks>
/// A create result decoded from a plain create has no stat on the wire; it comes back as <c>default(Stat)</c> with
/// type <see cref="OpCode.Create"/>. Null data (<see cref="GetDataResult.DataIsNull"/>) goes as length -1, as
/// ZooKeeper sends it.
/// </remarks>
internal readonly record struct MultiResponse(IReadOnlyList<MultiResult> Results) : IJuteRecord<MultiResponse>
{
    /// <summary>Pairs each result with its op's request opcode to pick ZooKeeper's encoding (see <see cref="MultiResult.For"/>).</summary>
    public static MultiResponse ForRequest(IReadOnlyList<MultiOp> ops, IReadOnlyList<OpResult> results)
    {
        if (ops.Count != results.Count)
        {
            JuteException.Throw($"a multi of {ops.Count} ops cannot have {results.Count} results");
        }

        var list = new MultiResult[results.Count];
        for (var i = 0; i < list.Length; i++)
        {
            list[i] = MultiResult.For(results[i], ops[i].Type);
        }

        return new MultiResponse(list);
    }

    public static bool TryRead(ref JuteReader reader, out MultiResponse value)
    {
        value = default;
        var results = new List<MultiResult>();
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

            if (!TryReadResult(ref reader, header.Type, out var result))
            {
                return false;
            }

            results.Add(new MultiResult(header.Type, result));
        }

        value = new MultiResponse(results);
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
        var results = Results;
        for (var i = 0; i < results.Count; i++)
        {
            var (type, result) = results[i];
            var err = result is ErrorResult e ? (int)e.Code : 0;
            new MultiHeader(type, false, err).Write(ref writer);
            WriteResult(ref writer, type, result);
        }

        MultiHeader.End.Write(ref writer);
    }

    private static bool TryReadResult(ref JuteReader reader, OpCode type, out OpResult result)
    {
        result = null!;
        switch (type)
        {
            case OpCode.Create:
                if (!reader.TryReadString(out var path))
                {
                    return false;
                }

                result = new CreateResult(path ?? "", default);
                return true;
            case OpCode.Create2:
                if (!Create2Response.TryRead(ref reader, out var created))
                {
                    return false;
                }

                result = new CreateResult(created.Path ?? "", created.Stat);
                return true;
            case OpCode.Delete:
                result = DeleteResult.Instance;
                return true;
            case OpCode.Check:
                result = CheckResult.Instance;
                return true;
            case OpCode.SetData:
                if (!reader.TryReadStat(out var stat))
                {
                    return false;
                }

                result = new SetDataResult(stat);
                return true;
            case OpCode.GetData:
                if (!reader.TryReadBuffer(out var data) || !reader.TryReadStat(out var dataStat))
                {
                    return false;
                }

                result = new GetDataResult(data ?? ReadOnlyMemory<byte>.Empty, dataStat) { DataIsNull = data is null };
                return true;
            case OpCode.GetChildren:
                if (!reader.TryReadStringList(out var children))
                {
                    return false;
                }

                result = new GetChildrenResult(children ?? (IReadOnlyList<string>)[]);
                return true;
            case OpCode.Error:
                if (!reader.TryReadInt(out var err))
                {
                    return false;
                }

                result = new ErrorResult((ZkErrorCode)err);
                return true;
            default:
                return false;
        }
    }

    private static void WriteResult(ref JuteWriter writer, OpCode type, OpResult result)
    {
        switch (type, result)
        {
            case (OpCode.Create, CreateResult c):
                writer.WriteString(c.Path);
                break;
            case (OpCode.Create2, CreateResult c):
                writer.WriteString(c.Path);
                writer.WriteStat(c.Stat);
                break;
            case (OpCode.Delete, DeleteResult) or (OpCode.Check, CheckResult):
                break;
            case (OpCode.SetData, SetDataResult s):
                writer.WriteStat(s.Stat);
                break;
            case (OpCode.GetData, GetDataResult g):
                writer.WriteBuffer(g.DataIsNull ? (ReadOnlyMemory<byte>?)null : g.Data);
                writer.WriteStat(g.Stat);
                break;
            case (OpCode.GetChildren, GetChildrenResult g):
                writer.WriteStringList(g.Children);
                break;
            case (OpCode.Error, ErrorResult e):
                writer.WriteInt((int)e.Code);
                break;
            default:
                JuteException.Throw($"a multi result of type {type} cannot carry {result.GetType().Name}");
                break;
        }
    }
}
