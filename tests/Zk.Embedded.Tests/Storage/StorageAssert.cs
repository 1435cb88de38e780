using Zk.Embedded.Txns;
using Zk.Embedded.Processing;
using Zk.Embedded.Tree;

namespace Zk.Embedded.Tests.Storage;

/// <summary>
/// Structural comparisons for storage tests: txn records hold byte arrays (reference equality in records) and
/// states are trees, so both are compared field by field, naming the first difference.
/// </summary>
internal static class StorageAssert
{
    public static void SameTxn(Txn expected, Txn actual)
    {
        Assert.Equal(expected.Zxid, actual.Zxid);
        Assert.Equal(expected.SessionId, actual.SessionId);
        Assert.Equal(expected.Cxid, actual.Cxid);
        Assert.Equal(expected.Time, actual.Time);
        SameOp(expected.Op, actual.Op, $"txn {expected.Zxid}");
    }

    public static void SameTxns(IReadOnlyList<Txn> expected, IReadOnlyList<Txn> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            SameTxn(expected[i], actual[i]);
        }
    }

    /// <summary>Walks both states: every node's name, data, ACL and stat fields, the sessions and the indexes.</summary>
    public static void SameState(TreeState expected, TreeState actual)
    {
        Assert.Equal(expected.Zxid, actual.Zxid);
        Assert.Equal(expected.NodeCount, actual.NodeCount);
        SameNode(expected.Root, actual.Root, "/");
        Assert.Equal(expected.Sessions.Count, actual.Sessions.Count);
        foreach (var (id, session) in expected.Sessions)
        {
            Assert.True(actual.Sessions.TryGetValue(id, out var other), $"session {id} missing");
            Assert.Equal(session, other);
        }

        Assert.Equal(expected.Ephemerals.Count, actual.Ephemerals.Count);
        foreach (var (owner, paths) in expected.Ephemerals)
        {
            Assert.True(actual.Ephemerals.TryGetValue(owner, out var other), $"ephemerals of {owner} missing");
            Assert.True(paths.SetEquals(other!), $"ephemerals of {owner} differ");
        }

        Assert.True(expected.Containers.SetEquals(actual.Containers), "containers differ");
        Assert.True(expected.Ttls.SetEquals(actual.Ttls), "ttls differ");
    }

    private static void SameNode(ZNode expected, ZNode actual, string path)
    {
        Assert.True(expected.Name == actual.Name, $"{path}: name {expected.Name} vs {actual.Name}");
        SameData(expected.Data, actual.Data, path);
        Assert.True(expected.Acl.Equals(actual.Acl), $"{path}: acl {expected.Acl} vs {actual.Acl}");
        var fields = (expected.Czxid, expected.Mzxid, expected.Pzxid, expected.Ctime, expected.Mtime, expected.EphemeralOwner,
            expected.Version, expected.CreateCount, expected.Aversion, expected.Descendants, expected.Children.Count);
        var others = (actual.Czxid, actual.Mzxid, actual.Pzxid, actual.Ctime, actual.Mtime, actual.EphemeralOwner,
            actual.Version, actual.CreateCount, actual.Aversion, actual.Descendants, actual.Children.Count);
        Assert.True(fields == others, $"{path}: fields {fields} vs {others}");
        foreach (var name in expected.Children.Names())
        {
            var other = actual.Children.Find(name);
            var childPath = path == "/" ? "/" + name : path + "/" + name;
            Assert.True(other is not null, $"{childPath} missing");
            SameNode(expected.Children.Find(name)!, other!, childPath);
        }
    }

    private static void SameData(byte[]? expected, byte[]? actual, string where)
    {
        Assert.True((expected is null) == (actual is null), $"{where}: data null vs not null");
        if (expected is not null)
        {
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{where}: data differs");
        }
    }

    private static void SameOp(TxnOp expected, TxnOp actual, string where)
    {
        Assert.True(expected.GetType() == actual.GetType(), $"{where}: {expected.GetType().Name} vs {actual.GetType().Name}");
        switch (expected)
        {
            case CreateTxn c:
                var ac = (CreateTxn)actual;
                Assert.Equal((c.Path, c.EphemeralOwner, c.ParentCreateCount), (ac.Path, ac.EphemeralOwner, ac.ParentCreateCount));
                Assert.Equal(c.Acl, ac.Acl);
                SameData(c.Data, ac.Data, where);
                break;
            case SetDataTxn s:
                var a = (SetDataTxn)actual;
                Assert.Equal((s.Path, s.Version), (a.Path, a.Version));
                SameData(s.Data, a.Data, where);
                break;
            case MultiTxn m:
                var am = (MultiTxn)actual;
                Assert.Equal(m.Ops.Length, am.Ops.Length);
                for (var i = 0; i < m.Ops.Length; i++)
                {
                    SameOp(m.Ops[i], am.Ops[i], $"{where} op {i}");
                }

                break;
            default:
                Assert.Equal(expected, actual); // records without arrays compare by value
                break;
        }
    }
}
