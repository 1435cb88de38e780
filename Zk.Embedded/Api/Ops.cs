namespace Zk.Embedded.Api;

/// <summary>One operation inside a <c>multi</c> (writes and check) or <c>multiRead</c> (getData, getChildren).</summary>
public abstract record Op(string Path)
{
    public static Op Create(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode, long ttl = -1) =>
        new CreateOp(path, data, acl, mode, ttl);

    public static Op Delete(string path, int version = -1) => new DeleteOp(path, version);

    public static Op SetData(string path, byte[]? data, int version = -1) => new SetDataOp(path, data, version);

    public static Op Check(string path, int version) => new CheckOp(path, version);

    public static Op GetData(string path) => new GetDataOp(path);

    public static Op GetChildren(string path) => new GetChildrenOp(path);
}

public sealed record CreateOp(string Path, byte[]? Data, IReadOnlyList<Acl> Acl, CreateMode Mode, long Ttl) : Op(Path);

public sealed record DeleteOp(string Path, int Version) : Op(Path);

public sealed record SetDataOp(string Path, byte[]? Data, int Version) : Op(Path);

public sealed record CheckOp(string Path, int Version) : Op(Path);

public sealed record GetDataOp(string Path) : Op(Path);

public sealed record GetChildrenOp(string Path) : Op(Path);

/// <summary>The result of one op of a <c>multi</c> or <c>multiRead</c>.</summary>
public abstract record OpResult;

/// <summary>A create's result: the actual path (with a sequence suffix) and, from create2-style calls, its stat.</summary>
public sealed record CreateResult(string Path, Stat Stat) : OpResult;

public sealed record DeleteResult : OpResult
{
    public static readonly DeleteResult Instance = new();
}

public sealed record SetDataResult(Stat Stat) : OpResult;

public sealed record CheckResult : OpResult
{
    public static readonly CheckResult Instance = new();
}

public sealed record GetDataResult(ReadOnlyMemory<byte> Data, Stat Stat) : OpResult
{
    /// <summary>True when the znode holds null data, as in <see cref="DataResult.DataIsNull"/>.</summary>
    public bool DataIsNull { get; init; }
}

public sealed record GetChildrenResult(IReadOnlyList<string> Children) : OpResult;

/// <summary>
/// An op that did not apply. In a failed multi, ops before the failing one report <see cref="ZkErrorCode.Ok"/>
/// (rolled back), the failing op its own code, and the ops after it <see cref="ZkErrorCode.RuntimeInconsistency"/>.
/// </summary>
public sealed record ErrorResult(ZkErrorCode Code) : OpResult;
