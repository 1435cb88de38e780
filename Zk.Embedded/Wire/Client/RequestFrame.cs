using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>Builds request frames: length, <see cref="RequestHeader"/> (xid patched in at send time), body.</summary>
internal static class RequestFrame
{
    /// <summary>A frame in a pooled buffer the caller owns and disposes once it is sent.</summary>
    public static JuteFrameBuffer Build<T>(OpCode op, in T body)
        where T : IJuteRecord<T>
    {
        var frame = new JuteFrameBuffer(256);
        frame.BeginFrame();
        var writer = new JuteWriter(frame);
        new RequestHeader(0, op).Write(ref writer);
        body.Write(ref writer);
        frame.EndFrame();
        return frame;
    }
}

/// <summary>A request with no body (closeSession, whoAmI).</summary>
internal readonly record struct NoBody : IJuteRecord<NoBody>
{
    public static bool TryRead(ref JuteReader reader, out NoBody value)
    {
        value = default;
        return true;
    }

    public void Write(ref JuteWriter writer)
    {
    }
}
