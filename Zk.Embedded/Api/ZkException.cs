using System.Diagnostics.CodeAnalysis;

namespace Zk.Embedded.Api;

/// <summary>
/// The one exception a ZooKeeper operation throws. Branch on <see cref="Code"/>, never on the message.
/// </summary>
public sealed class ZkException : Exception
{
    public ZkException(ZkErrorCode code, string? path, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Path = path;
    }

    public ZkException(ZkErrorCode code, string? path = null)
        : this(code, path, DescribeCode(code, path))
    {
    }

    /// <summary>ZooKeeper's error code.</summary>
    public ZkErrorCode Code { get; }

    /// <summary>The path the failing operation named, when it named one.</summary>
    public string? Path { get; }

    /// <summary>For a failed <c>multi</c>: one result per op, as ZooKeeper reports them (the failing op carries its code).</summary>
    public IReadOnlyList<OpResult>? Results { get; init; }

    /// <summary>A message in ZooKeeper's words: <c>KeeperErrorCode = NoNode for /a</c>, with a hint where one helps.</summary>
    public static string DescribeCode(ZkErrorCode code, string? path)
    {
        var text = code switch
        {
            ZkErrorCode.Ok => "ok",
            ZkErrorCode.NoNode => "NoNode",
            ZkErrorCode.NodeExists => "NodeExists",
            ZkErrorCode.BadVersion => "BadVersion",
            ZkErrorCode.NotEmpty => "Directory not empty",
            ZkErrorCode.NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ZkErrorCode.NoAuth => "NoAuth",
            ZkErrorCode.InvalidAcl => "InvalidACL",
            ZkErrorCode.BadArguments => "BadArguments",
            ZkErrorCode.SessionExpired => "Session expired",
            ZkErrorCode.ConnectionLoss => "ConnectionLoss",
            ZkErrorCode.AuthFailed => "AuthFailed",
            ZkErrorCode.Unimplemented => "Unimplemented",
            ZkErrorCode.NoWatcher => "No such watcher",
            ZkErrorCode.RuntimeInconsistency => "RuntimeInconsistency",
            ZkErrorCode.MarshallingError => "MarshallingError",
            _ => code.ToString(),
        };
        return path is null ? $"KeeperErrorCode = {text}" : $"KeeperErrorCode = {text} for {path}";
    }

    [DoesNotReturn]
    internal static void Throw(ZkErrorCode code, string? path) => throw new ZkException(code, path);

    [DoesNotReturn]
    internal static void Throw(ZkErrorCode code, string? path, string message) => throw new ZkException(code, path, message);
}
