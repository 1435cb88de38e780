using System.Diagnostics.CodeAnalysis;

namespace Zk.Embedded.Wire.Jute;

/// <summary>
/// The one exception the jute codec throws: a record that cannot be encoded (an unknown multi result type, a field
/// longer than jute can carry) or, from <see cref="Jute.Decode{T}"/>, bytes that are not the record asked for.
/// Decoders themselves never throw; they return false. Callers close the connection that sent a bad frame.
/// </summary>
internal sealed class JuteException(string message) : Exception(message)
{
    [DoesNotReturn]
    public static void Throw(string message) => throw new JuteException(message);
}
