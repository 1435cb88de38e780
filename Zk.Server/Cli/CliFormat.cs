using System.Globalization;
using System.Text;
using Zk.Embedded.Api;

namespace Zk.Server.Cli;

/// <summary>zkCli's output formats: StatPrinter, ZKUtil.getPermString, Java's Date.toString, CliWrapperException messages.</summary>
internal static class CliFormat
{
    public static void PrintStat(TextWriter output, Stat stat)
    {
        output.WriteLine($"cZxid = 0x{stat.Czxid:x}");
        output.WriteLine($"ctime = {JavaDate(stat.Ctime)}");
        output.WriteLine($"mZxid = 0x{stat.Mzxid:x}");
        output.WriteLine($"mtime = {JavaDate(stat.Mtime)}");
        output.WriteLine($"pZxid = 0x{stat.Pzxid:x}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cversion = {stat.Cversion}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dataVersion = {stat.Version}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"aclVersion = {stat.Aversion}"));
        output.WriteLine($"ephemeralOwner = 0x{stat.EphemeralOwner:x}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dataLength = {stat.DataLength}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"numChildren = {stat.NumChildren}"));
    }

    /// <summary>Java's <c>new Date(ms).toString()</c>: "EEE MMM dd HH:mm:ss zzz yyyy", in UTC.</summary>
    public static string JavaDate(long millis) =>
        DateTimeOffset.FromUnixTimeMilliseconds(millis).UtcDateTime.ToString("ddd MMM dd HH:mm:ss 'UTC' yyyy", CultureInfo.InvariantCulture);

    /// <summary>ZKUtil.getPermString: c, d, r, w, a in that order.</summary>
    public static string Perms(Perms perms)
    {
        var text = new StringBuilder(5);
        if ((perms & Embedded.Api.Perms.Create) != 0)
        {
            text.Append('c');
        }

        if ((perms & Embedded.Api.Perms.Delete) != 0)
        {
            text.Append('d');
        }

        if ((perms & Embedded.Api.Perms.Read) != 0)
        {
            text.Append('r');
        }

        if ((perms & Embedded.Api.Perms.Write) != 0)
        {
            text.Append('w');
        }

        if ((perms & Embedded.Api.Perms.Admin) != 0)
        {
            text.Append('a');
        }

        return text.ToString();
    }

    /// <summary>ZKUtil's parse of "cdrwa" back to bits; false for a letter it does not know.</summary>
    public static bool TryParsePerms(string text, out Perms perms)
    {
        perms = Embedded.Api.Perms.None;
        foreach (var c in text)
        {
            perms |= c switch
            {
                'c' => Embedded.Api.Perms.Create,
                'd' => Embedded.Api.Perms.Delete,
                'r' => Embedded.Api.Perms.Read,
                'w' => Embedded.Api.Perms.Write,
                'a' => Embedded.Api.Perms.Admin,
                _ => (Perms)(-1),
            };
            if ((int)perms < 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The jute Id's toString, as getAcl prints it: <c>'world,'anyone</c>.</summary>
    public static string JuteId(Id id) => $"'{id.Scheme},'{id.Identity}";

    /// <summary>CliWrapperException.getMessage: what zkCli prints for a KeeperException.</summary>
    public static string Error(ZkException e) => e.Code switch
    {
        ZkErrorCode.NoNode => $"Node does not exist: {e.Path}",
        ZkErrorCode.NoChildrenForEphemerals => $"Ephemerals cannot have children: {e.Path}",
        ZkErrorCode.NodeExists => $"Node already exists: {e.Path}",
        ZkErrorCode.NotEmpty => $"Node not empty: {e.Path}",
        ZkErrorCode.InvalidAcl => $"Acl is not valid : {e.Path}",
        ZkErrorCode.NoAuth => $"Insufficient permission : {e.Path}",
        ZkErrorCode.BadArguments => $"Arguments are not valid : {e.Path}",
        ZkErrorCode.BadVersion => $"version No is not valid : {e.Path}",
        _ => e.Message,
    };
}
