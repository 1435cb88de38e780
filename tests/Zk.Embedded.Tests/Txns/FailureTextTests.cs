using Zk.Embedded.Txns;

namespace Zk.Embedded.Tests.Txns;

/// <summary>
/// A decoding check's message is formatted only when the check fails (<c>FailureText</c>): the codecs run a check
/// per message, txn and snapshot node, and an eagerly built message was a string each time.
/// </summary>
public sealed class FailureTextTests
{
    private sealed class CountingValue
    {
        public int Formatted { get; private set; }

        public override string ToString()
        {
            Formatted++;
            return "the value";
        }
    }

    [Fact]
    public void A_check_that_holds_formats_nothing()
    {
        var value = new CountingValue();
        for (var i = 0; i < 3; i++)
            TxnCodec.Expect(true, $"{value} at {i}");
        Assert.Equal(0, value.Formatted);
    }

    [Fact]
    public void A_check_that_fails_throws_with_its_formatted_message()
    {
        var value = new CountingValue();
        var e = Assert.Throws<InvalidDataException>(() => TxnCodec.Expect(false, $"{value} at {42}"));
        Assert.Equal("expected the value at 42", e.Message);
        Assert.Equal(1, value.Formatted);
    }
}
