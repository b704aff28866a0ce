"""Where a run's tasks execute: two threads in this process, or a Dask cluster.

The flow is the same on every runner; only Prefect's task runner differs. Threads stay the
default: on one school server a Dask cluster costs more than it saves (see
../shared/reference/PYTHON-STACK.md, "Task runners"). Dask is for a hosted Sluis that
serves many schools and needs more than one machine.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.private_files import make_private_dir

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

    from pipelines.settings import Settings

__all__ = ["DASK_SCRATCH", "remove_dask_scratch", "task_runner_for"]

# Dask spills task data to disk under pressure. Task data holds pupil values, so it stays in
# the state folder (owner only), never in the system temp folder Dask would pick.
DASK_SCRATCH = "dask"

# The default runner: deliveries of different suppliers overlap their disk and SFTP waits.
THREADS = 2


def task_runner_for(settings: Settings) -> TaskRunner[Any]:
    """The task runner the settings ask for.

    Raises:
        ConfigurationError: Dask is asked for but prefect-dask is not installed.
    """
    if settings.task_runner != "dask":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=THREADS)
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError:
        raise ConfigurationError(
            _(
                "--task-runner dask (of SLUIS_TASK_RUNNER=dask) heeft prefect-dask nodig, en "
                "dat is niet geïnstalleerd; installeer het met: pip install -e '.[dask]'"
            )
        ) from None
    if settings.dask_address:
        # An existing cluster: its workers were started with their own scratch folder and
        # must reach the state and drop folders through the same paths (see the README).
        return DaskTaskRunner(address=_checked_address(settings.dask_address))
    # What a killed run spilled is removed before this run spills anything.
    remove_dask_scratch(settings)
    scratch = make_private_dir(Path(settings.state_dir) / DASK_SCRATCH)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            # No dashboard: it would show task names and sizes on a port nobody guards.
            "dashboard_address": None,
            "local_directory": str(scratch),
        }
    )


def remove_dask_scratch(settings: Settings) -> None:
    """Remove the local cluster's scratch folder: spilled task data lives no longer than a run."""
    shutil.rmtree(Path(settings.state_dir) / DASK_SCRATCH, ignore_errors=True)


def _checked_address(address: str) -> str:
    """The scheduler address, if pupil data may travel to it.

    Tasks carry pupil frames and keys to the workers. Between machines that needs TLS
    (Dask's `tls://`, certificates from Dask's own configuration); plain `tcp://` is only
    for a cluster on this machine.

    Raises:
        ConfigurationError: the address is not tls:// and not on this machine.
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    host = parts.hostname or ""
    if parts.scheme == "tls":
        return address
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parts.scheme in ("tcp", "inproc") and (local or parts.scheme == "inproc"):
        return address
    raise ConfigurationError(
        _(
            "SLUIS_DASK_ADDRESS moet een tls://-adres zijn (of tcp:// op deze machine): taken "
            "brengen leerlinggegevens en sleutels naar de workers; stel TLS van Dask in "
            "(distributed.comm.tls.*) en gebruik tls://host:poort"
        )
    )
