"""The systemd units in deploy/: what they create is for the sluis user only."""

from __future__ import annotations

from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def service(name: str) -> dict[str, list[str]]:
    # systemd repeats keys (Environment=), which configparser does not allow.
    lines = [
        line for line in (DEPLOY / name).read_text().splitlines() if "=" in line or "[" in line
    ]
    values: dict[str, list[str]] = {}
    section = ""
    for line in lines:
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("name", ["prefect-server.service", "sluis-serve.service"])
def test_every_unit_creates_files_for_its_owner_only(name: str) -> None:
    assert service(name)["UMask"] == ["0077"]


def test_prefects_home_is_a_folder_for_its_owner_only() -> None:
    values = service("prefect-server.service")
    assert "PREFECT_HOME=/var/lib/sluis/prefect" in values["Environment"]
    assert values["StateDirectory"] == ["sluis/prefect"]
    assert values["StateDirectoryMode"] == ["0700"]
