"""The Dask side: a client for a scheduler or an embedded LocalCluster, and stopping cleanly.

Dask is imported inside these functions only, so that importing muse_cli.batch stays light.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from muse_cli.cpu import choose_openblas_kernel
from muse_cli.errors import ExitCode, MuseError

DRAIN_SECONDS = 15.0  # after Ctrl-C, how long to let tasks that are already running finish their writes
HANDSHAKE_SECONDS = 10.0  # for --scheduler to answer Dask's handshake (a scheduler answers in milliseconds)


class ClusterError(MuseError, exit_code=ExitCode.WRITE):
    """The Dask scheduler cannot be reached or the cluster cannot start."""


def dask_setup(worker) -> None:
    """Dask preload hook for the embedded cluster's workers: Ctrl-C is the client's to handle.

    The terminal sends SIGINT to every process of the command; the client then
    cancels what is queued, lets running tasks finish their writes and closes the
    cluster, so workers must not die on their own in the middle of a write.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _executing(dask_worker) -> int:
    return dask_worker.state.executing_count


def drain(client, timeout: float = DRAIN_SECONDS) -> None:
    """Wait until no worker is running a task (tasks cannot be stopped halfway: they end in whole files)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if not any(client.run(_executing).values()):
                return
        except Exception:
            return
        time.sleep(0.2)


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def check_scheduler(scheduler: str) -> None:
    """ClusterError unless something at ``scheduler`` answers Dask's handshake within HANDSHAKE_SECONDS.

    Something else listening there (a web server) made Client() wait forever, or fail after a 40-line
    traceback that ended in "Unable to allocate 3.07 EiB" (the reply's first bytes read as a frame length)."""
    import asyncio

    from distributed.comm import connect

    async def handshake() -> None:
        comm = await connect(scheduler, timeout=HANDSHAKE_SECONDS)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(handshake(), HANDSHAKE_SECONDS + 1))
    except TimeoutError:  # connected, but no Dask answer came back (before OSError: a subclass)
        why = f"it accepts connections but gave no Dask handshake in {HANDSHAKE_SECONDS:g} s"
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
            "`dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler"
        ) from None
    except Exception as exc:  # its reply, read as Dask's frames: an absurd length, a bad message
        why = f"its reply is not Dask's ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else '?'})"
    else:
        return
    raise ClusterError(
        f"{scheduler} is not a Dask scheduler: {why}; give the address `dask scheduler` prints "
        "(tcp://HOST:8786 by default), or leave out --scheduler"
    )


def _connect(scheduler: str):
    """A client of the scheduler at ``scheduler``, once it has a worker."""
    from distributed import Client

    check_scheduler(scheduler)
    try:
        client = Client(scheduler, timeout="15s")
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
            "`dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler"
        ) from None
    try:
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=60)
    except TimeoutError:
        client.close()
        raise ClusterError(
            f"the Dask scheduler at {scheduler} has no workers; start one with `dask worker {scheduler}`"
        ) from None
    return client


@contextmanager
def open_cluster(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A Dask client: for ``scheduler`` (tcp://HOST:PORT) or an embedded LocalCluster, closed on exit."""
    if scheduler:
        client = _connect(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    import dask
    from distributed import Client, LocalCluster

    n = workers or machine_cores()
    choose_openblas_kernel()  # the workers are new processes: they load NumPy with the kernels chosen here
    with dask.config.set(
        {
            "distributed.worker.daemon": False,
            "distributed.admin.system-monitor.gil.enabled": False,
            "logging.distributed": "error",
        }
    ):
        try:
            lc = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                host="127.0.0.1",
                preload=[__name__],
            )
        except Exception as exc:
            raise ClusterError(f"cannot start a local Dask cluster of {n} workers: {exc}") from None
        client = Client(lc)
        try:
            yield client
        finally:
            client.close()
            lc.close()
