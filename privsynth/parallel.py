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
POLL_S = 0.1  # how often the map looks at its futures
WORKER_CHECK_S = 2.0  # how often it asks the scheduler how many workers it has
NO_WORKER_GRACE_S = 60.0  # a nanny restarts a killed worker in seconds; a minute without any means none will come


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
    import dask
    from distributed import Client, LocalCluster

    _quiet_dask_logs()
    if scheduler is None:
        n = workers or machine_workers()
        try:
            # a task whose worker dies fails at once, and map_tasks resubmits it to a fresh worker, counted
            with warnings.catch_warnings(), dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                # "port 8787 in use, using another": the scheduler's health endpoint
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
        exhausted = _map_on_cluster(fn, args, client, retries, label, note, done)
        workers, where = len(client.scheduler_info()["workers"]), str(client.scheduler.address)
    if exhausted:
        last = {f.task: f.error for f in failures}
        listed = "; ".join(f"{label} {t}: {last[t]}" for t in sorted(exhausted))
        raise PrivsynthError(f"{len(exhausted)} of {total} {label}s failed after {retries + 1} attempts each "
                             f"({listed}); fix the cause and run again (results were not used)")
    return MapOutcome([results[i] for i in range(total)], tuple(failures), workers, where,
                      time.perf_counter() - start)


def _map_on_cluster(fn: Callable[[A], T], args: Sequence[A], client: Any, retries: int, label: str,
                    note: Callable[[int, int, BaseException], None], done: Callable[[int, T], None]) -> list[int]:
    """Submit every task, poll until each has finished or failed all its attempts; returns the exhausted ones.

    Why poll instead of blocking in ``as_completed``: a task whose worker dies is not an error to dask until the
    scheduler gives up on it, and a cluster whose workers are all gone leaves every task waiting for a worker
    that never comes, silently. Here a worker death fails the attempt at once (``allowed-failures`` 0, set on
    the local cluster), the attempt is resubmitted to a fresh worker like any failure, and a cluster without
    a worker for ``NO_WORKER_GRACE_S`` seconds ends the map with an error naming it."""
    token = uuid.uuid4().hex[:8]
    exhausted: list[int] = []

    def submit(task: int, attempt: int) -> Any:
        return client.submit(fn, args[task], key=f"{label}-{token}-{task}-{attempt}", pure=False)

    pending = {submit(i, 0): (i, 0) for i in range(len(args))}
    last_worker_seen = time.monotonic()
    next_check = 0.0
    while pending:
        finished = [f for f in pending if f.done()]
        if not finished:
            now = time.monotonic()
            if now >= next_check:
                next_check = now + WORKER_CHECK_S
                if _worker_count(client):
                    last_worker_seen = now
                elif now - last_worker_seen > NO_WORKER_GRACE_S:
                    _cancel(client, list(pending))
                    raise PrivsynthError(
                        f"{label}s: the dask cluster at {client.scheduler.address} has had no worker for "
                        f"{now - last_worker_seen:.0f} s ({len(pending)} of {len(args)} {label}s unfinished); its "
                        "workers died or were killed (out of memory?). Give them more memory, set compute.workers "
                        "lower, or compute.scheduler: synchronous; nothing from this step was used")
            time.sleep(POLL_S)
            continue
        for future in finished:
            task, attempt = pending.pop(future)
            if future.status == "finished":
                done(task, future.result())
                continue
            note(task, attempt, _attempt_error(future))
            if attempt < retries:
                pending[submit(task, attempt + 1)] = (task, attempt + 1)
            else:
                exhausted.append(task)
    return exhausted


def _attempt_error(future: Any) -> BaseException:
    """Why an attempt ended without a result: the task's exception, or the scheduler's word for a lost one."""
    if future.status == "error":
        exc = future.exception()
        if type(exc).__name__ == "KilledWorker":
            return RuntimeError("its worker process died while running it (killed, or out of memory)")
        return exc
    return RuntimeError(f"the scheduler reported it {future.status} (a lost worker or connection)")


def _worker_count(client: Any) -> int:
    try:
        return len(client.scheduler_info()["workers"])
    except (OSError, KeyError, TimeoutError):  # an unreachable scheduler has no workers for us
        return 0


def _cancel(client: Any, futures: list[Any]) -> None:
    with contextlib.suppress(Exception):  # best effort: the error that follows is the message that matters
        client.cancel(futures)


def task_mapper(client: Any = None, retries: int = 2) -> Callable[..., MapOutcome[Any]]:
    """``map(fn, args, progress, label)`` running on ``client`` (in this process when None): the task mapper the
    pipeline hands to the shadow attack, so attacks/ never opens a cluster itself."""

    def mapper(fn: Callable[[A], T], args: Sequence[A], progress: Progress | None = None,
               label: str = "task") -> MapOutcome[T]:
        return map_tasks(fn, args, client, retries=retries, progress=progress, label=label)

    return mapper
