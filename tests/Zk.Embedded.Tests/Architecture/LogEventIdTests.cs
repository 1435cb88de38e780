using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Zk.Embedded.Tests.Architecture;

/// <summary>
/// Operators filter and alert on event ids, so one id must mean one event across every assembly we ship (each
/// folder owns a block, docs/architecture.md lists them).
/// </summary>
public sealed class LogEventIdTests
{
    private static readonly Assembly[] Shipped =
    [
        typeof(ZkPeer).Assembly,
        typeof(Zk.Embedded.Hosting.ZooKeeperPeerHostOptions).Assembly,
        typeof(Zk.Transport.NetMQ.NetMqTransport).Assembly,
        typeof(Zk.Transport.InMemory.InMemoryNetwork).Assembly,
        Assembly.Load("zk"),
    ];

    [Fact]
    public void Every_log_event_id_names_one_event_across_the_shipped_assemblies()
    {
        var events = Shipped
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .Select(e => (e.Attribute!.EventId, Name: e.Attribute.EventName ?? e.Method.Name, Where: $"{e.Method.DeclaringType!.FullName}.{e.Method.Name}"))
            .ToList();
        Assert.True(events.Count > 50, $"expected the shipped assemblies' log events, found {events.Count}");

        var clashes = events.GroupBy(e => e.EventId)
            .Where(g => g.Select(e => e.Name).Distinct().Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Where))}")
            .ToList();
        Assert.True(clashes.Count == 0, "event ids used by more than one event:\n" + string.Join("\n", clashes));
    }
}
