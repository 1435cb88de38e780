using System.Runtime.CompilerServices;

namespace Zk.Embedded.Tests.Support;

/// <summary>
/// Many tests block a pool thread on purpose (a raw socket's blocking receive, waiting for a child process), and the
/// suite runs classes in parallel on a 2-core CI machine, whose pool starts with 2 threads and adds about one a
/// second: blocked tests can then starve the peers of other tests, whose replies stall for seconds (the likely cause
/// of a fuzz test's healthy session once waiting past its 10 s deadline in a full run, never alone). The floor keeps
/// the tests' own blocking from slowing the peers they test.
/// </summary>
internal static class ThreadPoolFloor
{
    [ModuleInitializer]
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
