"""What a nightly run loads before its flow starts: no library it does not use.

Every run is a fresh process, so every module loaded is paid for every night (see
bench/cost.py). The SFTP drop's asyncssh and Alembic's migration machinery are needed only
by agreements that drop over SFTP and by a database that must be created or upgraded.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_LOADED = (
    "import sys\n"
    "import pipelines.cli, pipelines.flows, pipelines.plan\n"
    "from connectors.drops.registry import get_drop\n"
    "get_drop('memory')\n"
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
)


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    """Top-level packages a fresh interpreter holds after loading what `sluis run` loads."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED], capture_output=True, text=True, check=True, timeout=300
    )
    return set(done.stdout.split())


def test_the_run_loads_its_flow(loaded: set[str]) -> None:
    assert {"pipelines", "prefect", "pandas", "sqlalchemy"} <= loaded


@pytest.mark.parametrize("package", ["asyncssh", "alembic", "mako"])
def test_a_run_without_sftp_or_migrations_does_not_load(loaded: set[str], package: str) -> None:
    assert package not in loaded


def test_the_sftp_drop_is_loaded_when_one_is_built() -> None:
    script = (
        "import sys\n"
        "from connectors.drops.registry import get_drop\n"
        "from connectors.errors import ConfigurationError\n"
        "try:\n"
        "    get_drop('sftp')\n"
        "except ConfigurationError:\n"
        "    pass\n"
        "print('asyncssh' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "True"
