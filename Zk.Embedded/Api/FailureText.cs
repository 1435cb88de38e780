using System.Runtime.CompilerServices;

namespace Zk.Embedded.Api;

/// <summary>
/// The message of a decoding check (<c>Expect(condition, $"...")</c>), formatted only when the check fails. A plain
/// interpolated string argument is built before the call whether or not the check holds: on the codecs' paths that
/// was a string per message, txn and snapshot node (13 % of the bytes a loaded 3-voter ensemble allocated).
/// </summary>
[InterpolatedStringHandler]
internal ref struct FailureText
{
    private DefaultInterpolatedStringHandler _text;

    public FailureText(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
    {
        shouldAppend = !condition;
        _text = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    public override string ToString() => _text.ToStringAndClear();
}
