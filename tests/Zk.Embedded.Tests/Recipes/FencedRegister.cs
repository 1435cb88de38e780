namespace Zk.Embedded.Tests.Recipes;

/// <summary>
/// The resource a lock or a leader guards: it fails the test when two holders are inside at once, or when a holder
/// comes with a fencing token below one it has already accepted.
/// </summary>
internal sealed class FencedRegister
{
    private readonly object _gate = new();
    private int _inside;
    private long _largestToken = long.MinValue;

    public int Writes { get; private set; }

    public void Enter(long token)
    {
        lock (_gate)
        {
            Assert.True(_inside == 0, $"a holder with token 0x{token:x} entered while {_inside} other holder(s) were inside");
            Assert.True(token >= _largestToken, $"token 0x{token:x} came after the larger token 0x{_largestToken:x}");
            _inside++;
            _largestToken = token;
            Writes++;
        }
    }

    /// <summary>A write the register accepts only with a token no smaller than the largest it has seen; false when refused.</summary>
    public bool TryWrite(long token)
    {
        lock (_gate)
        {
            if (token < _largestToken)
            {
                return false;
            }

            _largestToken = token;
            Writes++;
            return true;
        }
    }

    public void Leave()
    {
        lock (_gate)
        {
            _inside--;
        }
    }
}
