using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Zk.Server;

namespace Zk.Embedded.Tests.Cli;

/// <summary>The zk program's log lines keep the console provider's single-line format that operators grep.</summary>
public sealed class ConsoleLogTests
{
    [Fact]
    public void A_message_is_one_line_with_time_level_category_and_event_id()
    {
        var output = new StringWriter();
        using var provider = new ConsoleLog(output);
        var logger = provider.CreateLogger("Zk.Embedded.Peer");

        logger.Log(LogLevel.Information, new EventId(3001, "Recovered"), "Recovered zxid 0x5", null, (s, _) => s);
        logger.Log(LogLevel.Error, new EventId(1002), "two\nlines", new InvalidOperationException("bad\nthing"), (s, _) => s);

        var lines = output.ToString().Split('\n');
        Assert.Equal(3, lines.Length); // two lines and the empty rest after the last newline
        Assert.Matches(new Regex(@"^\d\d:\d\d:\d\d\.\d\d\d info: Zk\.Embedded\.Peer\[3001\] Recovered zxid 0x5$"), lines[0]);
        Assert.Matches(new Regex(@"^\d\d:\d\d:\d\d\.\d\d\d fail: Zk\.Embedded\.Peer\[1002\] two lines System\.InvalidOperationException: bad thing$"), lines[1]);
        Assert.Equal("", lines[2]);
    }

    [Fact]
    public void The_factory_drops_debug_and_trace()
    {
        using var factory = ConsoleLog.CreateFactory();
        var logger = factory.CreateLogger("zk");

        Assert.False(logger.IsEnabled(LogLevel.Debug));
        Assert.False(logger.IsEnabled(LogLevel.Trace));
        Assert.True(logger.IsEnabled(LogLevel.Information));
    }
}
