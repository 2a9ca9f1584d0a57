"""map_forked: the same results, in the same order, as a plain loop; errors reach the caller."""
import os

import pytest

from orchestration.runtime.parallel import map_forked


def test_forked_map_keeps_order_and_results(monkeypatch):
    monkeypatch.setenv("VARDVAL_WORKERS", "2")
    items = list(range(20))
    scale = 3   # a closure: workers inherit it, nothing is pickled but indexes and results
    assert map_forked(lambda x: (x * scale, os.getpid()), items)[5][0] == 15
    pids = {pid for _, pid in map_forked(lambda x: (x, os.getpid()), items)}
    assert os.getpid() not in pids and len(pids) >= 1
    assert [r for r, _ in map_forked(lambda x: (x * x, 0), items)] == [x * x for x in items]


def test_both_cores_by_default(monkeypatch):
    from orchestration.runtime.parallel import worker_count

    monkeypatch.delenv("VARDVAL_WORKERS", raising=False)
    assert worker_count() == min(2, os.cpu_count() or 1)
    monkeypatch.setenv("VARDVAL_WORKERS", "1")
    assert worker_count() == 1


def test_one_worker_or_little_work_stays_in_process(monkeypatch):
    monkeypatch.setenv("VARDVAL_WORKERS", "1")
    assert map_forked(lambda x: os.getpid(), [1, 2, 3]) == [os.getpid()] * 3
    monkeypatch.setenv("VARDVAL_WORKERS", "2")
    assert map_forked(lambda x: os.getpid(), [1, 2, 3], min_items_per_worker=8) == [os.getpid()] * 3


def test_an_error_in_a_worker_is_raised_here(monkeypatch):
    monkeypatch.setenv("VARDVAL_WORKERS", "2")

    def fail_on_three(x):
        if x == 3:
            raise ValueError("item 3 is bad")
        return x

    with pytest.raises(ValueError, match="item 3 is bad"):
        map_forked(fail_on_three, [1, 2, 3, 4])


def test_workers_finish_even_when_this_process_ignores_sigterm(monkeypatch):
    # A handler installed here (Dagster's, a test's) is inherited by forked workers; shutting
    # the pool down must not depend on SIGTERM killing them (this once hung the test suite).
    import signal

    monkeypatch.setenv("VARDVAL_WORKERS", "2")
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        assert map_forked(lambda x: x + 1, list(range(8))) == list(range(1, 9))
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_streamed_results_come_in_order_while_the_workers_read_ahead(monkeypatch):
    from orchestration.runtime.parallel import imap_forked

    monkeypatch.setenv("VARDVAL_WORKERS", "2")
    results = imap_forked(lambda x: (x * x, os.getpid()), list(range(12)), ahead=1)
    first = next(results)
    assert first[0] == 0 and first[1] != os.getpid()
    assert [r for r, _ in results] == [x * x for x in range(1, 12)]

    def fail_on_three(x):
        if x == 3:
            raise ValueError("item 3 is bad")
        return x

    with pytest.raises(ValueError, match="item 3 is bad"):
        list(imap_forked(fail_on_three, [1, 2, 3, 4, 5]))
    stopped = imap_forked(lambda x: x, list(range(10)))
    assert next(stopped) == 0
    stopped.close()   # a consumer that stops early ends the workers
    assert map_forked(lambda x: x + 1, [1, 2, 3, 4]) == [2, 3, 4, 5], "and a new pool can start"
