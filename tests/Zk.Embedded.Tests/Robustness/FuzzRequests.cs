using System.Buffers.Binary;
using System.Text;
using Zk.Embedded.Api;
using Zk.Embedded.Wire.Jute;
using W = Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Tests.Robustness;

/// <summary>
/// Seeded random requests, valid and hostile, for <see cref="RequestFuzzTests"/>: paths that exist, that do not, and
/// that are null, empty, relative or full of control characters; ACLs with null ids, unknown schemes and super; null,
/// empty, large and oversized data; odd versions; every create mode and TTL; multis mixing all of it; and raw
/// frames for every opcode whose body is a hostile record, a mutation of one, or random bytes.
/// </summary>
internal sealed class FuzzRequests(Random random, int maxDataBytes)
{
    private static readonly string?[] OddPaths =
        [null, "", "relative", "/f/", "//f", "/f/./a", "/f/../a", "/f/\u0000x", "/f/\u0001", "/zookeeper", "/zookeeper/quota", "/", "/f/a/\uD800"];

    private static readonly string?[] Schemes = ["world", "digest", "ip", "super", "auth", "x509", null];

    private static readonly OpCode[] Opcodes = Enum.GetValues<OpCode>();

    /// <summary>One in-process call on <paramref name="zk"/>, described for the failure message.</summary>
    public (string What, Func<IZooKeeper, Task> Call) NextCall()
    {
        var path = Path();
        switch (random.Next(12))
        {
            case 0 or 1 or 2:
                var (data, acl, mode, ttl) = (Data(), Acl(), Mode(), Ttl());
                return ($"create {Show(path)} {Show(data)} {Show(acl)} {mode} ttl={ttl}", zk => zk.CreateAsync(path!, data, acl!, mode, ttl).AsTask());
            case 3:
                var deleteVersion = Version();
                return ($"delete {Show(path)} v={deleteVersion}", zk => zk.DeleteAsync(path!, deleteVersion).AsTask());
            case 4 or 5:
                var (setData, setVersion) = (Data(), Version());
                return ($"setData {Show(path)} {Show(setData)} v={setVersion}", zk => zk.SetDataAsync(path!, setData, setVersion).AsTask());
            case 6:
                var (setAcl, aclVersion) = (Acl(), Version());
                return ($"setACL {Show(path)} {Show(setAcl)} v={aclVersion}", zk => zk.SetAclAsync(path!, setAcl!, aclVersion).AsTask());
            case 7 or 8:
                var ops = Ops();
                return ($"multi of {ops.Length}: {string.Join("; ", ops.Select(o => o?.ToString() ?? "null"))}", zk => zk.MultiAsync(ops!).AsTask());
            case 9:
                return ($"sync {Show(path)}", zk => zk.SyncAsync(path!).AsTask());
            case 10:
                var auth = random.Next(3) == 0 ? "user" + random.Next(3) : "user" + random.Next(3) + ":pw";
                return ($"addAuth digest {auth}", zk => zk.AddAuthInfoAsync("digest", Encoding.UTF8.GetBytes(auth)).AsTask());
            default:
                // Reads on paths that exist or may exist: bad read paths are the read side's to test.
                var readPath = "/f" + (random.Next(2) == 0 ? "" : "/n" + random.Next(6));
                return ($"getData {readPath}", async zk => await zk.GetDataAsync(readPath));
        }
    }

    /// <summary>A request frame (length, header, body) for a random opcode.</summary>
    public byte[] NextFrame(int xid)
    {
        var type = random.Next(10) == 0 ? (OpCode)random.Next(-20, 120) : Opcodes[random.Next(Opcodes.Length)];
        var body = random.Next(4) switch
        {
            0 => RandomBytes(),
            1 => Mutate(Record(type)),
            _ => Record(type),
        };
        var frame = new byte[4 + 8 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, 8 + body.Length);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), xid);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(8), (int)type);
        body.CopyTo(frame, 12);
        return frame;
    }

    private byte[] Record(OpCode type) => type switch
    {
        OpCode.Create or OpCode.Create2 or OpCode.CreateContainer => Jute.ToArray(new W.CreateRequest(Path(), Data(), Acl(), (int)Mode())),
        OpCode.CreateTtl => Jute.ToArray(new CreateTtlRequest(Path(), Data(), Acl(), (int)Mode(), Ttl())),
        OpCode.Delete or OpCode.DeleteContainer => Jute.ToArray(new W.DeleteRequest(Path(), Version())),
        OpCode.SetData => Jute.ToArray(new W.SetDataRequest(Path(), Data(), Version())),
        OpCode.SetAcl => Jute.ToArray(new W.SetAclRequest(Path(), Acl(), Version())),
        OpCode.Sync => Jute.ToArray(new W.SyncRequest(Path())),
        OpCode.Multi => Jute.ToArray(new MultiOperationRecord([.. Ops().Where(o => o is not null && o.Path is not null).Select(o => ToWire(o!))])),
        _ => RandomBytes(),
    };

    private MultiOp ToWire(Op op) => op switch
    {
        Api.CreateOp c => new MultiOp(c.Mode.IsTtl() ? OpCode.CreateTtl : OpCode.Create, c with { Acl = c.Acl ?? [] }),
        DeleteOp => new MultiOp(OpCode.Delete, op),
        SetDataOp => new MultiOp(OpCode.SetData, op),
        _ => new MultiOp(OpCode.Check, op),
    };

    private Op?[] Ops()
    {
        var ops = new Op?[random.Next(0, 6)];
        for (var i = 0; i < ops.Length; i++)
        {
            ops[i] = random.Next(6) switch
            {
                0 or 1 => Op.Create(Path()!, Data(random.Next(4) == 0 ? maxDataBytes / 2 : 64), Acl()!, Mode(), Ttl()),
                2 => Op.Delete(Path()!, Version()),
                3 => Op.SetData(Path()!, Data(64), Version()),
                4 => Op.Check(Path()!, Version()),
                _ => null,
            };
        }

        return ops;
    }

    private string? Path() => random.Next(10) switch
    {
        < 6 => "/f" + (random.Next(3) == 0 ? "" : "/n" + random.Next(6)) + (random.Next(4) == 0 ? "/c" + random.Next(3) : ""),
        6 => "/f/s-",
        7 => "/zookeeperx/q" + random.Next(3),
        _ => OddPaths[random.Next(OddPaths.Length)],
    };

    private byte[]? Data(int largest = int.MaxValue) => random.Next(8) switch
    {
        0 => null,
        1 => [],
        2 when largest > maxDataBytes => new byte[maxDataBytes + random.Next(0, 2)],
        _ => RandomBytes(Math.Min(largest, 200)),
    };

    private IReadOnlyList<Acl>? Acl()
    {
        switch (random.Next(10))
        {
            case 0:
                return null;
            case 1:
                return [];
            case 2 or 3:
                return Api.Acl.OpenUnsafe;
            default:
                var entries = new Acl[random.Next(10) < 7 ? 1 : random.Next(2, 4)];
                for (var i = 0; i < entries.Length; i++)
                {
                    var scheme = Schemes[random.Next(Schemes.Length)];
                    string? id = random.Next(3) switch
                    {
                        0 => null,
                        1 => scheme switch { "world" => "anyone", "ip" => "127.0.0.1/8", "digest" => "user0:x1Y2=", _ => "x" },
                        _ => Encoding.UTF8.GetString(RandomBytes(8)),
                    };
                    entries[i] = new Acl((Perms)random.Next(0, 40), new Id(scheme!, id!));
                }

                return entries;
        }
    }

    private CreateMode Mode() => (CreateMode)(random.Next(12) == 0 ? random.Next(-3, 10) : random.Next(0, 7));

    private long Ttl() => random.Next(5) switch
    {
        0 => -1,
        1 => 0,
        2 => long.MaxValue,
        _ => random.Next(1, 100_000),
    };

    private int Version() => random.Next(6) switch
    {
        0 => int.MaxValue,
        1 => int.MinValue,
        2 or 3 => -1,
        _ => random.Next(-2, 4),
    };

    private byte[] RandomBytes(int largest = 96)
    {
        var bytes = new byte[random.Next(0, largest + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    private byte[] Mutate(byte[] bytes)
    {
        bytes = bytes.ToArray();
        if (bytes.Length >= 4 && random.Next(2) == 0)
        {
            int[] lengths = [-1, -2, int.MaxValue, int.MinValue, bytes.Length, 0x100000];
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(random.Next(bytes.Length - 3)), lengths[random.Next(lengths.Length)]);
            return bytes;
        }

        if (bytes.Length > 0)
        {
            bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
        }

        return bytes.AsSpan(0, random.Next(bytes.Length + 1)).ToArray();
    }

    private static string Show(string? text) => text is null ? "null" : $"\"{text}\"";

    private static string Show(byte[]? data) => data is null ? "data=null" : $"data[{data.Length}]";

    private static string Show(IReadOnlyList<Acl>? acl) => acl is null ? "acl=null" : $"acl=[{string.Join(",", acl.Select(a => $"{a.Perms}:{a.Id.Scheme ?? "null"}:{a.Id.Identity ?? "null"}"))}]";
}
