using Microsoft.Extensions.Logging;

namespace Zk.Embedded.InProcess;

/// <summary>Log messages of sessions' ordered outboxes (the block Sessions had before: 1100-1199); event names are contract.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1100, EventName = "ReadFailed", Level = LogLevel.Error, Message = "A read threw; it is answered MarshallingError and the peer goes on")]
    public static partial void ReadFailed(ILogger logger, Exception exception);
}
