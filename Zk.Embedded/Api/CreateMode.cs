namespace Zk.Embedded.Api;

/// <summary>How a znode is created; the numbers are ZooKeeper's create flags.</summary>
public enum CreateMode
{
    Persistent = 0,
    Ephemeral = 1,
    PersistentSequential = 2,
    EphemeralSequential = 3,
    /// <summary>Removed by the peer's background check once it has had a child and has none left.</summary>
    Container = 4,
    /// <summary>Removed when unmodified for its TTL and childless. Needs <c>ExtendedTypesEnabled</c>.</summary>
    PersistentWithTtl = 5,
    PersistentSequentialWithTtl = 6,
}

/// <summary>Properties of a <see cref="CreateMode"/>.</summary>
public static class CreateModeExtensions
{
    public static bool IsEphemeral(this CreateMode mode) => mode is CreateMode.Ephemeral or CreateMode.EphemeralSequential;

    public static bool IsSequential(this CreateMode mode) =>
        mode is CreateMode.PersistentSequential or CreateMode.EphemeralSequential or CreateMode.PersistentSequentialWithTtl;

    public static bool IsContainer(this CreateMode mode) => mode == CreateMode.Container;

    public static bool IsTtl(this CreateMode mode) => mode is CreateMode.PersistentWithTtl or CreateMode.PersistentSequentialWithTtl;

    /// <summary>Parses a wire flag; false for a number ZooKeeper does not define.</summary>
    public static bool TryFromFlag(int flag, out CreateMode mode)
    {
        mode = (CreateMode)flag;
        return flag is >= 0 and <= 6;
    }
}
