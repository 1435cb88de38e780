using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Zk.Embedded.Api;
using Zk.Embedded.Tree;
using Zk.Embedded.Txns;

namespace Zk.Embedded.Storage;

/// <summary>
/// Opens the txn log and reads it from the newest snapshot's zxid on a thread of its own while recovery loads that
/// snapshot, so the two overlap instead of adding up (each took about a third of a 100,000-znode restart). Reading
/// ahead is bounded by <see cref="BudgetBytes"/> of records; past it the reader waits for the replay to catch up.
/// </summary>
/// <remarks>
/// Only one thread uses the log at a time: the reader until it stops, then the caller. A read error is handed over
/// after every good txn before it, as <see cref="TxnLog.ReadFrom"/> throws it. When recovery starts from another
/// zxid (the newest snapshot failed verification), <see cref="ReadFrom"/> stops the reader and reads the log itself.
/// </remarks>
internal sealed class LogPrefetch : IDisposable
{
    /// <summary>Default read-ahead: the log tail of a 100,000-znode restart (~30 MB) fits; 1 KiB records make ~60,000 txns.</summary>
    public const long DefaultBudgetBytes = 64L << 20;

    private readonly object _gate = new();
    private readonly Func<TxnLog> _open;
    private readonly Zxid _from;
    private readonly AclCache? _acls;
    private readonly Thread _thread;
    private List<Txn> _filling = [];
    private long _filledBytes;
    private TxnLog? _log;
    private ExceptionDispatchInfo? _openFailure;
    private ExceptionDispatchInfo? _readFailure;
    private bool _readDone;
    private bool _stopped;
    private bool _takerWaiting;

    /// <param name="open">opens the log; runs on the reader's thread.</param>
    /// <param name="from">the zxid to read after: the newest snapshot's.</param>
    public LogPrefetch(Func<TxnLog> open, Zxid from, AclCache? acls, long budgetBytes = DefaultBudgetBytes)
    {
        _open = open;
        _from = from;
        _acls = acls;
        BudgetBytes = budgetBytes;
        _thread = new Thread(Run) { IsBackground = true, Name = "zk-recovery-log" };
        _thread.Start();
    }

    public long BudgetBytes { get; }

    /// <summary>How long opening the log took (on the reader's thread, beside the snapshot load).</summary>
    public TimeSpan OpenTime { get; private set; }

    /// <summary>The log, once opened; throws what opening it threw.</summary>
    public TxnLog Log
    {
        get
        {
            lock (_gate)
            {
                while (_log is null && _openFailure is null)
                {
                    Monitor.Wait(_gate);
                }

                _openFailure?.Throw();
                return _log!;
            }
        }
    }

    /// <summary>Txns read ahead and not taken yet (tests: the read-ahead stays within its budget).</summary>
    internal int BufferedTxns
    {
        get
        {
            lock (_gate)
            {
                return _filling.Count;
            }
        }
    }

    /// <summary>The log if it was opened; for closing it after a failure (call <see cref="Dispose"/> first).</summary>
    public TxnLog? OpenedLog
    {
        get
        {
            lock (_gate)
            {
                return _log;
            }
        }
    }

    /// <summary>The logged txns after <paramref name="zxidExclusive"/>, as <see cref="TxnLog.ReadFrom"/> gives them.</summary>
    public IEnumerable<Txn> ReadFrom(Zxid zxidExclusive)
    {
        var log = Log;
        if (zxidExclusive == _from)
        {
            return Drain();
        }

        Dispose();
        return log.ReadFrom(zxidExclusive, _acls, longLivedData: true);
    }

    /// <summary>Stops the reader and waits for it: afterwards only the caller uses the log.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }

        _thread.Join();
    }

    private IEnumerable<Txn> Drain()
    {
        var spare = new List<Txn>();
        while (Take(spare) is { } batch)
        {
            foreach (var txn in batch)
            {
                yield return txn;
            }

            batch.Clear();
            spare = batch;
        }
    }

    /// <summary>Everything read so far (swapped for <paramref name="spare"/>), or null at the end; throws a read error there.</summary>
    private List<Txn>? Take(List<Txn> spare)
    {
        lock (_gate)
        {
            while (_filling.Count == 0 && !_readDone)
            {
                _takerWaiting = true;
                Monitor.Wait(_gate);
                _takerWaiting = false;
            }

            if (_filling.Count == 0)
            {
                _readFailure?.Throw();
                return null;
            }

            var batch = _filling;
            (_filling, _filledBytes) = (spare, 0);
            Monitor.PulseAll(_gate); // the reader may wait for room
            return batch;
        }
    }

    private void Run()
    {
        var started = Stopwatch.GetTimestamp();
        TxnLog log;
        try
        {
            log = _open();
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                (_openFailure, _readDone) = (ExceptionDispatchInfo.Capture(e), true);
                Monitor.PulseAll(_gate);
            }

            return;
        }

        lock (_gate)
        {
            (_log, OpenTime) = (log, Stopwatch.GetElapsedTime(started));
            Monitor.PulseAll(_gate);
        }

        try
        {
            foreach (var logged in log.ReadLoggedFrom(_from, _acls, longLivedData: true))
            {
                lock (_gate)
                {
                    while (_filledBytes >= BudgetBytes && !_stopped)
                    {
                        Monitor.Wait(_gate);
                    }

                    if (_stopped)
                    {
                        return;
                    }

                    _filling.Add(logged.Txn);
                    _filledBytes += logged.RecordBytes;
                    if (_takerWaiting)
                    {
                        Monitor.PulseAll(_gate);
                    }
                }
            }
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _readFailure = ExceptionDispatchInfo.Capture(e);
            }
        }
        finally
        {
            lock (_gate)
            {
                _readDone = true;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
