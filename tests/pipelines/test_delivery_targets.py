"""Where and how a delivery goes: an SFTP drop named by the agreement, age encryption,
and erasures reaching delta suppliers as removals."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pyrage
import pytest
from pydantic import SecretStr
from pyrage import x25519
from sftp_server import PASSWORD, SftpServer, sftp_server
from test_delivery import Harness, agreement, school

from connectors.drops.sftp import SftpDrop
from connectors.errors import ConfigurationError
from lineage.rights import pupil_hash
from pipelines.drops import drop_for
from pipelines.settings import Settings

__all__ = ["sftp_server"]  # the fixture, used by name


def sftp_agreement(server: SftpServer) -> dict[str, object]:
    return {
        "type": "sftp",
        "host": server.host,
        "port": server.port,
        "username": "leverancier",
        "path": "/",
        "host_key": [server.host_key_line],
        "secret": "leverancier-sftp",
    }


def test_an_sftp_agreement_delivers_with_the_named_secret_from_the_settings(
    tmp_path: Path, sftp_server: SftpServer
) -> None:
    loaded = agreement(drop=sftp_agreement(sftp_server))
    settings = Settings(
        state_dir=tmp_path / "state", secrets={"leverancier-sftp": SecretStr(PASSWORD)}
    )
    drop = drop_for(loaded.agreement, settings, tmp_path / "drop")
    assert isinstance(drop, SftpDrop)
    assert PASSWORD not in repr(drop)
    harness = Harness(tmp_path, loaded)
    harness.drop = drop  # type: ignore[assignment]
    outcome = harness.run(school(["1001", "1002"]))
    assert outcome.status == "delivered"
    assert outcome.location is not None and outcome.location.startswith("sftp://leverancier@")
    folder = sftp_server.root / "leverancier" / str(outcome.delivery_id)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == ["leverancier-07xy.csv"]
    # Lineage records where it went, never the secret.
    record = harness.store.deliveries_of("leverancier")[0]
    assert record.location == outcome.location and PASSWORD not in str(record.location)


def test_a_missing_secret_says_where_to_put_it(tmp_path: Path, sftp_server: SftpServer) -> None:
    loaded = agreement(drop=sftp_agreement(sftp_server))
    with pytest.raises(
        ConfigurationError, match="geheim 'leverancier-sftp' niet gevonden: voeg het toe"
    ):
        drop_for(loaded.agreement, Settings(state_dir=tmp_path), tmp_path / "drop")


def test_an_encrypted_delivery_lists_the_hashes_of_what_the_supplier_receives(
    tmp_path: Path,
) -> None:
    identity = x25519.Identity.generate()
    loaded = agreement(encryption={"age_recipient": str(identity.to_public())})
    harness = Harness(tmp_path, loaded)
    outcome = harness.run(school(["1001", "1002"]))
    files = harness.published(outcome)
    manifest = json.loads(files["manifest.json"])
    assert [f["name"] for f in manifest["files"]] == ["leverancier-07xy.csv.age"]
    assert manifest["encryption"]["type"] == "age"
    sealed = files["leverancier-07xy.csv.age"]
    assert b"Kind1001" not in sealed
    assert hashlib.sha256(sealed).hexdigest() == manifest["files"][0]["sha256"]
    plain = pyrage.decrypt(sealed, [identity])
    table = pd.read_csv(io.BytesIO(plain), sep=";", dtype=str)
    assert list(table["leerlingkey"]) == ["1001", "1002"]
    # The archive holds the same encrypted bytes: nothing readable is kept for re-delivery.
    archived = next((harness.settings.state_dir / "archive").rglob("*.age")).read_bytes()
    assert archived == sealed


def test_an_erased_pupil_is_removed_at_a_delta_supplier(tmp_path: Path) -> None:
    harness = Harness(tmp_path, agreement(mode="delta"))
    keys = [str(k) for k in range(1001, 1021)]
    harness.run(school(keys))
    erased = frozenset({pupil_hash("07XY:1007", b"membership-secret-0123456789abcdef")})
    harness.erased = erased
    outcome = harness.run(school(keys))
    assert outcome.counts["withheld"] == {"erased": 1}
    table = pd.read_csv(
        io.BytesIO(harness.published(outcome)["leverancier-07xy.csv"]), sep=";", dtype=str
    )
    assert list(zip(table["leerlingkey"], table["change"], strict=True)) == [("1007", "removed")]
