namespace Zk.Embedded.Tests.Recipes;

/// <summary>Collects values a recipe reports (hold states, leadership changes, cache events) and waits, with a deadline, for a condition on them.</summary>
internal sealed class ValueRecorder<T>(string name)
{
    private readonly List<T> _values = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<T> Values
    {
        get
        {
            lock (_values)
            {
                return _values.ToArray();
            }
        }
    }

    public void Add(T value)
    {
        TaskCompletionSource changed;
        lock (_values)
        {
            _values.Add(value);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public async Task WaitForAsync(Func<IReadOnlyList<T>, bool> condition, string expectation, TimeSpan? deadline = null)
    {
        var limit = deadline ?? TimeSpan.FromSeconds(10);
        using var timeout = new CancellationTokenSource(limit);
        while (true)
        {
            Task changed;
            IReadOnlyList<T> seen;
            lock (_values)
            {
                seen = _values.ToArray();
                changed = _changed.Task;
            }

            if (condition(seen))
            {
                return;
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{name}: expected {expectation} within {limit}, saw [{string.Join(", ", Values)}]");
            }
        }
    }
}
