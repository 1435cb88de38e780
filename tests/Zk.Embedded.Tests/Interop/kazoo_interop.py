"""Kazoo against a ZooKeeper server: prints one line per check and exits 1 if any check failed.

Usage: /usr/bin/python3 kazoo_interop.py HOST:PORT
Run by KazooTests.cs against an in-process Zk.Embedded peer; it works against Apache ZooKeeper too.
"""
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NoNodeError, NodeExistsError, NotEmptyError,
                              RolledBackError, RuntimeInconsistency)
from kazoo.protocol.states import EventType

HOSTS = sys.argv[1]
DEADLINE = 10.0  # seconds for any awaited condition
failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    if not condition:
        failures.append(name)


def eventually(condition, deadline=DEADLINE):
    """Polls a condition until it holds or the deadline passes; returns whether it held."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def client():
    c = KazooClient(hosts=HOSTS, timeout=10.0)
    c.start(timeout=DEADLINE)
    return c


def sessions_and_basic_ops(zk):
    session_id, password = zk.client_id
    check("a session has a non-zero id and a 16-byte password", session_id != 0 and len(password) == 16,
          f"id={session_id:#x} password={len(password)} bytes")
    check("server_version (from envi) is 3.8 or later", zk.server_version()[:2] >= (3, 8), str(zk.server_version()))
    check("ruok answers imok", zk.command(b"ruok") == "imok", zk.command(b"ruok"))

    path = zk.create("/interop/basic", b"v0", makepath=True)
    check("create returns the path", path == "/interop/basic", path)
    data, stat = zk.get(path)
    check("get returns the data and version 0", data == b"v0" and stat.version == 0, f"{data!r} {stat}")
    stat = zk.set(path, b"v1", version=0)
    check("set with the right version bumps it to 1", stat.version == 1, str(stat))
    try:
        zk.set(path, b"v2", version=0)
        check("set with a stale version fails with BadVersion", False, "it succeeded")
    except BadVersionError:
        check("set with a stale version fails with BadVersion", True)
    try:
        zk.create(path)
        check("create of an existing node fails with NodeExists", False, "it succeeded")
    except NodeExistsError:
        check("create of an existing node fails with NodeExists", True)
    zk.create(path + "/child")
    try:
        zk.delete(path)
        check("delete of a node with children fails with NotEmpty", False, "it succeeded")
    except NotEmptyError:
        check("delete of a node with children fails with NotEmpty", True)
    zk.delete(path, recursive=True)
    check("a recursive delete removes the node", zk.exists(path) is None)
    try:
        zk.get("/interop/missing")
        check("get of a missing node fails with NoNode", False, "it succeeded")
    except NoNodeError:
        check("get of a missing node fails with NoNode", True)
    check("ls / shows /zookeeper", "zookeeper" in zk.get_children("/"), str(zk.get_children("/")))


def ephemerals(observer):
    owner = client()
    owner_id = owner.client_id[0]
    owner.create("/interop/eph", b"mine", ephemeral=True)
    stat = observer.exists("/interop/eph")
    check("a second client sees the ephemeral and its owner", stat is not None and stat.ephemeralOwner == owner_id,
          f"stat={stat} owner={owner_id:#x}")
    deleted = threading.Event()
    observer.exists("/interop/eph", watch=lambda e: deleted.set() if e.type == EventType.DELETED else None)
    owner.stop()
    owner.close()
    check("the observer's exists watch fires NodeDeleted when the owner's session stops", deleted.wait(DEADLINE))
    check("the ephemeral is gone once its session stopped", observer.exists("/interop/eph") is None)


def sequentials(zk):
    zk.ensure_path("/interop/seq")
    names = [zk.create("/interop/seq/n-", sequence=True) for _ in range(3)]
    expected = [f"/interop/seq/n-{i:010d}" for i in range(3)]
    check("sequential nodes get the parent's counter as a 10-digit suffix", names == expected, str(names))
    zk.create("/interop/seq/plain")
    zk.delete("/interop/seq/plain")
    eph = zk.create("/interop/seq/e-", ephemeral=True, sequence=True)
    check("the counter counts every create under the parent (plain ones too)", eph == "/interop/seq/e-0000000004", eph)
    stat = zk.exists("/interop/seq")
    check("the parent's cversion counts creates and deletes", stat.cversion == 6 and stat.numChildren == 4, str(stat))


def data_watches(zk, other):
    path = zk.create("/interop/dw", b"a")
    seen = []
    zk.DataWatch(path)(lambda data, stat, event=None: seen.append((data, stat.version if stat else None)))
    check("DataWatch is called at once with the current data", eventually(lambda: seen[:1] == [(b"a", 0)]), str(seen))
    other.set(path, b"b")
    check("DataWatch sees another client's set", eventually(lambda: (b"b", 1) in seen), str(seen))
    other.set(path, b"c")
    check("DataWatch sees the next set too (re-registered)", eventually(lambda: (b"c", 2) in seen), str(seen))

    events = []
    zk.get(path, watch=events.append)
    other.set(path, b"d")
    check("get(watch=...) fires CHANGED once", eventually(lambda: len(events) == 1), str(events))
    other.set(path, b"e")
    zk.sync(path)
    zk.get(path)
    check("a one-shot watch does not fire twice", len(events) == 1 and events[0].type == EventType.CHANGED
          and events[0].path == path, str(events))

    events.clear()
    zk.exists("/interop/dw-new", watch=events.append)
    other.create("/interop/dw-new")
    check("exists(watch=...) on a missing node fires CREATED", eventually(lambda: [e.type for e in events] == [EventType.CREATED]),
          str(events))
    events.clear()
    zk.get("/interop/dw-new", watch=events.append)
    other.delete("/interop/dw-new")
    check("get(watch=...) fires DELETED on delete", eventually(lambda: [e.type for e in events] == [EventType.DELETED]), str(events))


def child_watches(zk, other):
    path = zk.create("/interop/cw")
    seen = []
    zk.ChildrenWatch(path)(lambda children: seen.append(sorted(children)))
    check("ChildrenWatch is called at once with no children", eventually(lambda: seen[:1] == [[]]), str(seen))
    other.create(path + "/x")
    check("ChildrenWatch sees a child created", eventually(lambda: ["x"] in seen), str(seen))
    other.create(path + "/y", ephemeral=True)
    check("ChildrenWatch sees a second child", eventually(lambda: ["x", "y"] in seen), str(seen))
    other.delete(path + "/x")
    check("ChildrenWatch sees a child deleted", eventually(lambda: seen[-1:] == [["y"]]), str(seen))

    events = []
    zk.get_children(path, watch=events.append)
    other.create(path + "/z")
    check("get_children(watch=...) fires CHILD", eventually(lambda: [e.type for e in events] == [EventType.CHILD]), str(events))
    other.set(path, b"data")
    zk.sync(path)
    check("a set on the parent does not fire a child watch", len(events) == 1, str(events))


def transactions(zk):
    zk.create("/interop/txn", b"0")
    t = zk.transaction()
    t.create("/interop/txn/a", b"a")
    t.set_data("/interop/txn", b"1", version=0)
    t.check("/interop/txn", version=1)
    t.create("/interop/txn/s-", sequence=True)
    results = t.commit()
    check("a successful transaction returns each op's result",
          results[0] == "/interop/txn/a" and results[1].version == 1 and results[2] is True
          and results[3] == "/interop/txn/s-0000000001", str(results))
    check("its changes are all visible", zk.get("/interop/txn")[0] == b"1" and zk.exists("/interop/txn/a") is not None)

    t = zk.transaction()
    t.create("/interop/txn/b")
    t.check("/interop/txn", version=7)
    t.delete("/interop/txn/a")
    results = t.commit()
    check("a failed transaction reports rolled back, the failing op's error, then runtime inconsistency",
          len(results) == 3 and isinstance(results[0], RolledBackError) and isinstance(results[1], BadVersionError)
          and isinstance(results[2], RuntimeInconsistency), str(results))
    check("a failed transaction applies nothing",
          zk.exists("/interop/txn/b") is None and zk.exists("/interop/txn/a") is not None, str(zk.get_children("/interop/txn")))


def lock_recipe(first, second):
    lock1 = first.Lock("/interop/lock", "first")
    lock2 = second.Lock("/interop/lock", "second")
    check("the first client takes the lock", lock1.acquire(timeout=DEADLINE))
    acquired = threading.Event()
    order = []

    def contend():
        if lock2.acquire(timeout=DEADLINE):
            order.append("second")
            acquired.set()

    waiter = threading.Thread(target=contend, daemon=True)
    waiter.start()
    check("the second client queues behind the first", eventually(lambda: lock1.contenders() == ["first", "second"]),
          str(lock1.contenders()))
    check("the second client does not get the lock while the first holds it", not acquired.is_set())
    order.append("first releases")
    lock1.release()
    check("the second client gets the lock once the first releases it", acquired.wait(DEADLINE))
    check("in that order", order == ["first releases", "second"], str(order))
    lock2.release()
    waiter.join(DEADLINE)
    check("no contender is left once both released", lock1.contenders() == [], str(lock1.contenders()))


def election_recipe(first, second):
    election1 = first.Election("/interop/election", "first")
    election2 = second.Election("/interop/election", "second")
    leaders = []
    step_down = {"first": threading.Event(), "second": threading.Event()}

    def lead(name):
        leaders.append(name)
        step_down[name].wait(DEADLINE * 2)

    t1 = threading.Thread(target=election1.run, args=(lead, "first"), daemon=True)
    t1.start()
    check("the first candidate is elected", eventually(lambda: leaders == ["first"]), str(leaders))
    t2 = threading.Thread(target=election2.run, args=(lead, "second"), daemon=True)
    t2.start()
    check("both candidates are listed as contenders, the leader first",
          eventually(lambda: election2.contenders() == ["first", "second"]), str(election2.contenders()))
    check("the second candidate waits while the first leads", leaders == ["first"], str(leaders))
    step_down["first"].set()
    check("the second candidate is elected when the first steps down", eventually(lambda: leaders == ["first", "second"]),
          str(leaders))
    step_down["second"].set()
    t1.join(DEADLINE)
    t2.join(DEADLINE)
    check("both election runs ended", not t1.is_alive() and not t2.is_alive())


def main():
    zk = client()
    other = client()
    try:
        zk.delete("/interop", recursive=True)
        zk.ensure_path("/interop")
        for section in (lambda: sessions_and_basic_ops(zk), lambda: ephemerals(other), lambda: sequentials(zk),
                        lambda: data_watches(zk, other), lambda: child_watches(zk, other), lambda: transactions(zk),
                        lambda: lock_recipe(zk, other), lambda: election_recipe(zk, other)):
            try:
                section()
            except Exception:  # a section that throws is a failure; the rest still run
                failures.append("exception")
                print("FAIL unexpected exception:\n" + traceback.format_exc(), flush=True)
        zk.delete("/interop", recursive=True)
    finally:
        for c in (zk, other):
            c.stop()
            c.close()
    print(f"{len(failures)} check(s) failed: {failures}" if failures else "all checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
