"""Independent tasks on dask.distributed: an embedded local cluster by default, an existing one by address.

Why our own retry loop instead of ``client.map(retries=...)``: dask retries silently, and a shadow-model
attack that quietly lost or re-ran a run is not a receipt anyone should trust. Here every failed attempt is
resubmitted (at most ``retries`` times), recorded, and returned with the results; a task that still fails
stops the whole map with an error naming every failed task. Results come back in task order, and each task
carries its own seed, so the outcome does not depend on how many workers ran it or in which order.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, Sequence, TypeVar

from privsynth.errors import PrivsynthError

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")

#: run the tasks one after another in this process (tests, debugging); no cluster is started
SYNCHRONOUS = "synchronous"

Progress = Callable[[int, int], None]
CONNECT_TIMEOUT = "20s"  # to an existing scheduler


def check_scheduler(scheduler: str | None, timeout: float = 5.0) -> None:
    """Refuse an unreachable ``tcp://host:port`` scheduler before a run books budget: the shadow attack would
    only find out after the fit. A plain TCP connection, no dask handshake (``compute_client`` does that);
    other schemes (tls, inproc, ucx) and the local cluster are left to it."""
    if not scheduler or not scheduler.startswith("tcp://"):
        return
    host, _, port = scheduler[len("tcp://"):].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    raise PrivsynthError(f"compute.scheduler: cannot reach the dask scheduler at {scheduler[:80]!r} ({reason}); "
                         "start it (`dask scheduler`) or set compute.scheduler: null for a local cluster")


@dataclass(frozen=True)
class FailedAttempt:
    """One attempt of one task that raised; kept so a report can say what was retried."""

    task: int
    attempt: int
    error: str


@dataclass(frozen=True)
class MapOutcome(Generic[T]):
    results: list[T]
    failed_attempts: tuple[FailedAttempt, ...]
    workers: int
    where: str
    wall_seconds: float


def machine_workers() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def compute_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """Yield a dask ``Client`` (or None for ``scheduler="synchronous"``) and close what was opened.

    ``scheduler=None`` starts an embedded LocalCluster of ``workers`` single-threaded processes (default: one
    per usable core); a ``tcp://host:port`` address connects to a running scheduler instead.
    """
    if scheduler == SYNCHRONOUS:
        yield None
        return
    from distributed import Client, LocalCluster

    _quiet_dask_logs()
    if scheduler is None:
        n = workers or machine_workers()
        try:
            with warnings.catch_warnings():  # "port 8787 in use, using another": the scheduler's health endpoint
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.CRITICAL)
        except RuntimeError as exc:
            raise PrivsynthError(f"could not start a local dask cluster of {n} worker(s) ({exc}); a script that "
                                 "runs privsynth must guard its entry point with `if __name__ == \"__main__\":` "
                                 "(workers re-import it), or set compute.scheduler: synchronous") from None
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise PrivsynthError(f"compute.scheduler: cannot reach the dask scheduler at {scheduler!r} ({exc}); "
                             "start it (`dask scheduler`) or set compute.scheduler: null for a local cluster") from None
    with client:
        yield client


def _quiet_dask_logs() -> None:
    """dask logs its scheduler's life at INFO, and opacus installs a root handler (logging.basicConfig) at import,
    so without this every run would print a dozen "Start Nanny" lines into the steward's progress display."""
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("distributed")] + ["distributed"]:
        logging.getLogger(name).setLevel(logging.WARNING)


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def map_tasks(fn: Callable[[A], T], args: Sequence[A], client: Any = None, retries: int = 2,
              progress: Progress | None = None, label: str = "task") -> MapOutcome[T]:
    """``[fn(a) for a in args]`` on the cluster behind ``client`` (in this process when it is None).

    A failed task is resubmitted up to ``retries`` times; every failure is kept in ``failed_attempts``.
    Raises PrivsynthError listing every task that failed all its attempts (none is silently dropped).
    """
    start = time.perf_counter()
    total = len(args)
    results: dict[int, T] = {}
    failures: list[FailedAttempt] = []
    exhausted: list[int] = []

    def note(task: int, attempt: int, exc: BaseException) -> None:
        failures.append(FailedAttempt(task, attempt, _describe(exc)))
        log.warning("%s %d failed on attempt %d: %s", label, task, attempt, failures[-1].error)

    def done(task: int, value: T) -> None:
        results[task] = value
        if progress is not None:
            progress(len(results), total)
        log.info("%s %d/%d done", label, len(results), total)

    if client is None:
        for task, arg in enumerate(args):
            for attempt in range(retries + 1):
                try:
                    done(task, fn(arg))
                    break
                except Exception as exc:  # noqa: BLE001 - any task error is recorded, then retried or reported
                    note(task, attempt, exc)
            else:
                exhausted.append(task)
        workers, where = 1, "this process"
    else:
        from distributed import as_completed

        token = uuid.uuid4().hex[:8]

        def submit(task: int, attempt: int) -> Any:
            return client.submit(fn, args[task], key=f"{label}-{token}-{task}-{attempt}", pure=False)

        futures = {submit(i, 0): (i, 0) for i in range(total)}
        queue = as_completed(list(futures))
        for future in queue:
            task, attempt = futures.pop(future)
            if future.status == "finished":
                done(task, future.result())
                continue
            note(task, attempt, future.exception())
            if attempt < retries:
                retry = submit(task, attempt + 1)
                futures[retry] = (task, attempt + 1)
                queue.add(retry)
            else:
                exhausted.append(task)
        workers, where = len(client.scheduler_info()["workers"]), str(client.scheduler.address)
    if exhausted:
        last = {f.task: f.error for f in failures}
        listed = "; ".join(f"{label} {t}: {last[t]}" for t in sorted(exhausted))
        raise PrivsynthError(f"{len(exhausted)} of {total} {label}s failed after {retries + 1} attempts each "
                             f"({listed}); fix the cause and run again (results were not used)")
    return MapOutcome([results[i] for i in range(total)], tuple(failures), workers, where,
                      time.perf_counter() - start)


def task_mapper(client: Any = None, retries: int = 2) -> Callable[..., MapOutcome[Any]]:
    """``map(fn, args, progress, label)`` running on ``client`` (in this process when None): the task mapper the
    pipeline hands to the shadow attack, so attacks/ never opens a cluster itself."""

    def mapper(fn: Callable[[A], T], args: Sequence[A], progress: Progress | None = None,
               label: str = "task") -> MapOutcome[T]:
        return map_tasks(fn, args, client, retries=retries, progress=progress, label=label)

    return mapper
