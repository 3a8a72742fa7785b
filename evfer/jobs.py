"""One job runner for every batch command (``prepare``, ``convert``, ``voxelize``).

:func:`run_jobs` applies ``work`` to each item, in this process or in a pool of worker processes,
with a progress bar, and reports every item's outcome as a :class:`JobResult`: an error of one item
(a bad file) is recorded and the rest go on. Resuming is the caller's part: it leaves out the items
whose outputs are already done before calling.

Workers are started with ``spawn`` (safe beside torch's threads), run one torch / numba thread each
(the parallelism is over items) and die with their parent, even when the parent is killed with
SIGKILL: on Linux they ask the kernel for a parent-death signal, elsewhere they watch their parent
pid. ``work`` and the items must be picklable (a module-level function, or a ``functools.partial``
of one).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import EvferError

T = TypeVar("T")

#: Seconds between checks of the parent pid where there is no parent-death signal.
PARENT_POLL_S = 1.0


@dataclass(frozen=True)
class JobResult(Generic[T]):
    """One item's outcome: ``value`` when ``work`` returned, else ``error`` (one line)."""

    item: Any
    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class FileJob:
    """One input -> one output file of a batch command (``convert``, ``voxelize``): ``src`` ->
    ``dst``; ``name`` is the output's relative name; ``key`` fingerprints what it is made with."""

    src: Any
    dst: Any
    name: str = ""
    key: str = ""


@dataclass
class BatchSummary:
    """What a batch command did: outputs ``done`` (made now), ``skipped`` (done before, same
    settings), ``failed`` ((input, one-line reason)), ``redone`` (earlier outputs made again and
    why: other settings, unreadable) and the ``total`` of jobs."""

    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    redone: dict = field(default_factory=dict)
    total: int = 0


def run_jobs(
    work: Callable[[Any], T],
    items: Sequence[Any],
    *,
    workers: int = 1,
    desc: str = "jobs",
    unit: str = "item",
    progress: bool = True,
    label: Callable[[Any], str] = str,
) -> Iterator[JobResult[T]]:
    """Yield a :class:`JobResult` per item, in completion order.

    ``workers`` <= 1 (or a single item) runs in this process. An :class:`EvferError` of an item
    becomes its error text; any other exception becomes ``"<label(item)>: internal error: <type>:
    <message>"`` — neither stops the batch. ``KeyboardInterrupt`` cancels what has not started.
    """
    bar = progress_bar(len(items), desc, unit, progress and bool(items))
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                yield _outcome(item, _attempt(work, item), label)
                bar.update(1)
            return
        import multiprocessing as mp

        quiet_resource_tracker()
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(min(workers, len(items)), mp_context=ctx, initializer=init_worker,
                                    initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(_attempt, work, item): item for item in items}
            try:
                for future in cf.as_completed(futures):
                    yield _outcome(futures[future], future.result(), label)
                    bar.update(1)
            except KeyboardInterrupt:  # Ctrl-C: the workers (which ignore it) are stopped, not waited for
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # stop queued work; running ones finish
                raise
    finally:
        bar.close()


def split_outcomes(results: Iterator[JobResult]) -> tuple[list[Any], list[tuple[Any, str]]]:
    """Run through ``results``: the items whose work succeeded, and (item, error) of the others."""
    done, failed = [], []
    for r in results:
        if r.ok:
            done.append(r.item)
        else:
            failed.append((r.item, r.error))
    return done, failed


def _attempt(work: Callable[[Any], T], item: Any) -> tuple[T | None, str | None, bool]:
    """``(work(item), None, False)``, or ``(None, one-line error, is_internal)``; runs in the worker."""
    try:
        return work(item), None, False
    except EvferError as exc:
        return None, str(exc), False
    except Exception as exc:  # a bug or an unexpected file problem: report it with the item, keep going
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())}", True


def _outcome(item: Any, result: tuple[Any, str | None, bool], label: Callable[[Any], str]) -> JobResult:
    value, error, internal = result
    if internal:
        error = f"{label(item)}: internal error: {error}"
    return JobResult(item, value, error)


class LineProgress:
    """Progress as plain lines (``desc: k/N unit``) at every tenth of the work: what a log file or a
    pipe gets instead of a bar (which would fill it with carriage returns and escape codes)."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.desc, self.unit, self.n, self.shown = total, desc, unit, 0, 0

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.n == self.total or self.n * 10 // max(self.total, 1) > self.shown * 10 // max(self.total, 1):
            self.shown = self.n
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}s", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str, show: bool):
    """A tqdm bar on a terminal, plain lines elsewhere (:class:`LineProgress`), nothing when not ``show``."""
    from tqdm import tqdm

    if show and not sys.stderr.isatty():
        return LineProgress(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, disable=not show)


# ---------------------------------------------------------------- workers
def init_worker(parent_pid: int) -> None:
    """Set up a worker process: die with the parent, one compute thread (the parallelism comes from
    the workers; set through the environment, so a worker that never needs torch never imports it),
    plain logging."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: no worker tracebacks
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "EVFER_THREADS"):
        os.environ.setdefault(name, "1")
    if "torch" in sys.modules:  # pragma: no cover - a fresh spawned worker has not imported it
        sys.modules["torch"].set_num_threads(1)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def quiet_resource_tracker() -> None:
    """multiprocessing's resource tracker (a process of its own, started with the first pool) warns
    about "leaked semaphore objects" when this process is killed (SIGKILL) before its pool is
    closed; the workers die with their parent anyway, so the warning is noise. The tracker takes
    its warning filters from this process's ``-W`` options, which this adds to before it starts."""
    option = "ignore:resource_tracker:UserWarning"
    if option not in sys.warnoptions:
        sys.warnoptions.append(option)


def die_with_parent(parent_pid: int) -> None:
    """Make this process exit when ``parent_pid`` (its parent) dies, however it dies."""
    if sys.platform.startswith("linux") and _set_parent_death_signal(signal.SIGKILL):
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(1)
        return
    thread = threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="evfer-parent-watch")
    thread.start()


def _set_parent_death_signal(sig: int) -> bool:
    """prctl(PR_SET_PDEATHSIG, sig); False when it is not available."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(sig), 0, 0, 0) == 0  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(PARENT_POLL_S)
