"""Lineage fixtures: every store test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from lineage.store import LineageStore

# Trust auth in CI and in the dev container; which superuser exists depends on the image.
POSTGRES_USERS = ("postgres", "root")
POSTGRES_AT = "127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of a PostgreSQL user that may create schemas in database `test`."""
    failures = []
    for user in POSTGRES_USERS:
        url = f"postgresql+psycopg://{user}@{POSTGRES_AT}?connect_timeout=5"
        engine = create_engine(url)
        try:
            with engine.connect():
                return url
        except OperationalError as error:
            failures.append(f"{user}: {str(error.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    reason = f"PostgreSQL not reachable at {POSTGRES_AT} ({'; '.join(failures)})"
    if os.environ.get("SLUIS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason}, and SLUIS_REQUIRE_POSTGRES=1")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def lineage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty lineage database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        # A folder that does not exist yet: the store creates it.
        yield f"sqlite:///{tmp_path / 'state' / 'lineage.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    # A schema per test keeps parallel and repeated runs apart without a database each.
    schema = f"lineage_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(lineage_url: str) -> Iterator[LineageStore]:
    """A lineage store with its schema created, disposed after the test."""
    lineage = LineageStore(lineage_url)
    try:
        lineage.create_schema()
        yield lineage
    finally:
        lineage.dispose()
