"""Alembic migrations of the lineage database, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

import lineage.audit
from connectors.errors import ConfigurationError
from lineage.audit import AuditLog
from lineage.migrate import (
    _BEFORE_MIGRATIONS,
    VERSION_TABLE,
    check_current,
    current_revision,
    ensure_schema,
    head_revision,
    lineage_metadata,
    upgrade,
)
from lineage.schema_version import HEAD_REVISION, stored_revision
from lineage.store import LineageStore, build_engine
from pipelines.db_commands import db_upgrade
from pipelines.settings import Settings

AUDIT_KEY = b"audit-key-for-the-migration-tests"


@pytest.fixture
def engine(lineage_url: str) -> Iterator[Engine]:
    """An engine on the empty lineage database of `lineage_url`."""
    made = build_engine(lineage_url)
    try:
        yield made
    finally:
        made.dispose()


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(context, lineage_metadata()))


def _schema(connection: Connection) -> dict[str, Any]:
    """Everything the database says about the lineage tables, triggers included."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE}):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table),
            "fks": sorted(
                (f["name"], tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(table)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    if connection.dialect.name == "sqlite":
        triggers = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        ).all()
    else:
        triggers = connection.execute(
            text(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = to_regclass('audit_log') AND NOT tgisinternal ORDER BY tgname"
            )
        ).all()
        triggers += connection.execute(
            text(
                "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() ORDER BY p.proname"
            )
        ).all()
    return {"tables": tables, "triggers": [tuple(row) for row in triggers]}


def _made_before_migrations(engine: Engine, shape: str, *, without: str | None = None) -> None:
    """What `create_schema` did before migrations: that revision's tables, no revision.

    Migrated rather than made by `create_all`: the models have moved on since (later
    revisions add columns to those tables), the migrations of that revision have not.
    """
    url = engine.url.render_as_string(hide_password=False)
    upgrade(url, to=shape)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        if without is not None:
            connection.execute(text(f"DROP TABLE {without}"))


def _assert_append_only(engine: Engine) -> None:
    with AuditLog(engine, AUDIT_KEY) as log:
        log.append("beheerder", "redelivery", "leermiddel", {})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'iemand'"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))


# -- migrations and models agree -----------------------------------------------------------


def test_migrating_an_empty_database_gives_exactly_the_models_schema(
    lineage_url: str, engine: Engine
) -> None:
    assert upgrade(lineage_url) == (None, head_revision())

    assert _differences(engine) == []


def test_a_migrated_database_equals_one_made_by_create_all_triggers_and_checks_included(
    lineage_url: str, engine: Engine
) -> None:
    # Autogenerate compares neither check constraints nor triggers; the reflected schema does.
    upgrade(lineage_url)
    with engine.connect() as connection:
        migrated = _schema(connection)
    with engine.begin() as connection:
        lineage_metadata().drop_all(connection)
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP FUNCTION audit_log_append_only()"))
        assert _schema(connection) == {"tables": {}, "triggers": []}
        lineage_metadata().create_all(connection)
        created = _schema(connection)

    assert migrated["triggers"], "the audit log's append-only triggers exist"
    assert migrated == created


def test_the_audit_log_of_a_migrated_database_is_append_only(
    lineage_url: str, engine: Engine
) -> None:
    upgrade(lineage_url)

    _assert_append_only(engine)


@pytest.mark.parametrize("revision", sorted(_BEFORE_MIGRATIONS))
def test_each_shape_sluis_made_before_migrations_is_that_of_its_revision(
    lineage_url: str, engine: Engine, revision: str
) -> None:
    assert upgrade(lineage_url, to=revision) == (None, revision)

    inspector = inspect(engine)
    tables = set(inspector.get_table_names()) - {VERSION_TABLE}
    assert {t: frozenset(c["name"] for c in inspector.get_columns(t)) for t in tables} == dict(
        _BEFORE_MIGRATIONS[revision]
    )


# -- upgrade -----------------------------------------------------------------------------


def test_upgrade_twice_reports_no_change_the_second_time(lineage_url: str) -> None:
    head = head_revision()

    assert upgrade(lineage_url) == (None, head)
    assert upgrade(lineage_url) == (head, head)
    assert current_revision(lineage_url) == head


def test_upgrade_runs_the_missing_migrations(lineage_url: str, engine: Engine) -> None:
    upgrade(lineage_url, to="0001")

    assert upgrade(lineage_url) == ("0001", head_revision())
    assert _differences(engine) == []


def test_db_upgrade_says_what_it_did(lineage_url: str) -> None:
    settings = Settings(db_url=lineage_url)
    head = head_revision()

    assert db_upgrade(settings) == f"Lineage-database aangemaakt op revisie {head}."
    assert (
        db_upgrade(settings) == f"Lineage-database staat al op revisie {head}; er is niets te doen."
    )


def test_db_upgrade_defaults_to_the_sqlite_database_in_the_state_folder(tmp_path: Any) -> None:
    settings = Settings(state_dir=tmp_path / "state", db_url=None)

    db_upgrade(settings)

    assert current_revision(settings.lineage_url()) == head_revision()
    assert (tmp_path / "state" / "lineage.db").is_file()


# -- the revision read without Alembic ------------------------------------------------------


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION, (
        f"lineage/schema_version.py says HEAD_REVISION = {HEAD_REVISION!r}, but the newest "
        f"migration is {head_revision()!r}: set HEAD_REVISION to it"
    )


def _stored(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return stored_revision(connection)


def test_the_stored_revision_is_what_alembic_reads(lineage_url: str, engine: Engine) -> None:
    assert _stored(engine) is None
    assert current_revision(lineage_url) is None

    upgrade(lineage_url, to="0001")
    assert _stored(engine) == current_revision(lineage_url) == "0001"

    upgrade(lineage_url)
    assert _stored(engine) == current_revision(lineage_url) == HEAD_REVISION


def test_the_nightly_check_of_a_database_at_the_head_does_not_load_alembic(
    lineage_url: str,
) -> None:
    upgrade(lineage_url)
    # A fresh interpreter: this one has Alembic loaded by the tests above.
    script = (
        "import sys\n"
        "from lineage.store import LineageStore\n"
        f"with LineageStore({lineage_url!r}) as store:\n"
        "    store.create_schema()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_create_schema_still_migrates_an_empty_database(lineage_url: str) -> None:
    with LineageStore(lineage_url) as store:
        store.create_schema()
        assert _stored(store.engine) == HEAD_REVISION


# -- ensure_schema: what create_schema does ------------------------------------------------


def test_ensure_schema_creates_an_empty_database_at_the_head(
    lineage_url: str, engine: Engine
) -> None:
    ensure_schema(engine)

    assert current_revision(lineage_url) == head_revision()
    assert _differences(engine) == []
    _assert_append_only(engine)


def test_ensure_schema_leaves_a_database_at_the_head_alone(
    lineage_url: str, engine: Engine
) -> None:
    ensure_schema(engine)
    with AuditLog(engine, AUDIT_KEY) as log:
        log.append("beheerder", "redelivery", "leermiddel", {})

    ensure_schema(engine)

    assert current_revision(lineage_url) == head_revision()
    with AuditLog(engine, AUDIT_KEY) as log:
        assert log.verify().checked == 1


def _legacy_append(engine: Engine) -> None:
    """An audit row as a Sluis before revision 0003 wrote it: chained with plain SHA-256."""
    at = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    row_hash = lineage.audit._row_hash(
        1, at, "beheerder", "redelivery", "leermiddel", {}, lineage.audit.GENESIS_HASH
    )
    with engine.begin() as connection:
        connection.execute(
            sa.insert(lineage.audit.AuditRecord).values(
                seq=1,
                at=at,
                actor="beheerder",
                action="redelivery",
                subject="leermiddel",
                details={},
                prev_hash=lineage.audit.GENESIS_HASH,
                row_hash=row_hash,
            )
        )


def test_ensure_schema_adopts_a_database_the_last_sluis_before_migrations_made(
    lineage_url: str, engine: Engine
) -> None:
    _made_before_migrations(engine, "0002")
    _legacy_append(engine)

    with pytest.raises(ConfigurationError, match="voer `sluis db upgrade` uit"):
        ensure_schema(engine)

    assert current_revision(lineage_url) == "0002"
    assert upgrade(lineage_url) == ("0002", head_revision())
    assert _differences(engine) == []
    # The plain-hash row written before the audit key existed still verifies, and keyed
    # rows follow it.
    with AuditLog(engine, AUDIT_KEY) as log:
        assert log.verify().checked == 1
        log.append("beheerder", "redelivery", "leermiddel", {})
        assert log.verify().checked == 2


def test_ensure_schema_adopts_an_older_database_as_0001_and_asks_for_an_upgrade(
    lineage_url: str, engine: Engine
) -> None:
    _made_before_migrations(engine, "0001")
    _legacy_append(engine)

    # Adopted, but behind: the schema change waits for the operator.
    with pytest.raises(ConfigurationError) as raised:
        ensure_schema(engine)

    assert str(raised.value) == (
        f"de lineage-database staat op revisie 0001, Sluis heeft {head_revision()} nodig: "
        "voer `sluis db upgrade` uit"
    )
    assert current_revision(lineage_url) == "0001"
    assert upgrade(lineage_url) == ("0001", head_revision())
    assert _differences(engine) == []
    ensure_schema(engine)
    with AuditLog(engine, AUDIT_KEY) as log:
        assert log.verify().checked == 1


@pytest.mark.parametrize("shape", sorted(_BEFORE_MIGRATIONS))
def test_upgrade_adopts_a_database_made_before_migrations(
    lineage_url: str, engine: Engine, shape: str
) -> None:
    _made_before_migrations(engine, shape)

    assert upgrade(lineage_url) == (shape, head_revision())
    assert _differences(engine) == []


def test_ensure_schema_refuses_lineage_tables_that_no_revision_made(
    lineage_url: str, engine: Engine
) -> None:
    _made_before_migrations(engine, "0002", without="erasures")

    with pytest.raises(ConfigurationError, match="missing tables: erasures") as raised:
        ensure_schema(engine)

    assert "geen schemarevisie" in str(raised.value)
    assert current_revision(lineage_url) is None, "nothing was stamped"


def test_ensure_schema_ignores_another_applications_alembic_version(
    lineage_url: str, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('ae1027a6acf')"))

    ensure_schema(engine)

    assert current_revision(lineage_url) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            ("ae1027a6acf",)
        ]


def test_two_processes_creating_an_empty_database_at_once_both_succeed(
    lineage_url: str,
) -> None:
    engines = [build_engine(lineage_url) for _ in range(3)]
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def create(engine: Engine) -> None:
        start.wait()
        try:
            ensure_schema(engine)
        except BaseException as error:  # reported below, with its traceback
            failures.append(error)

    threads = [threading.Thread(target=create, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for engine in engines:
            engine.dispose()

    assert not failures, "".join(traceback.format_exception(failures[0]))
    assert current_revision(lineage_url) == head_revision()


# -- check_current -------------------------------------------------------------------------


def test_check_current_passes_an_empty_database_and_one_at_the_head(
    lineage_url: str, engine: Engine
) -> None:
    check_current(engine)
    upgrade(lineage_url)
    check_current(engine)


def test_check_current_tells_to_run_sluis_db_upgrade_when_behind(
    lineage_url: str, engine: Engine
) -> None:
    upgrade(lineage_url, to="0001")

    with pytest.raises(ConfigurationError) as raised:
        check_current(engine)

    assert str(raised.value) == (
        f"de lineage-database staat op revisie 0001, Sluis heeft {head_revision()} nodig: "
        "voer `sluis db upgrade` uit"
    )


def test_check_current_refuses_a_database_made_before_migrations(engine: Engine) -> None:
    _made_before_migrations(engine, "0002")

    with pytest.raises(
        ConfigurationError, match=r"revisie geen \(gemaakt voordat .*sluis db upgrade"
    ):
        check_current(engine)


def test_a_database_upgraded_by_a_newer_sluis_is_refused_not_downgraded(
    lineage_url: str, engine: Engine
) -> None:
    upgrade(lineage_url)
    with engine.begin() as connection:
        connection.execute(
            sa.update(sa.table(VERSION_TABLE, sa.column("version_num"))).values(version_num="9999")
        )

    for attempt in (lambda: check_current(engine), lambda: ensure_schema(engine)):
        with pytest.raises(ConfigurationError, match=r"revision 9999.*newer Sluis"):
            attempt()
    with pytest.raises(ConfigurationError, match="newer Sluis"):
        upgrade(lineage_url)
    assert current_revision(lineage_url) == "9999"


def test_an_unreachable_database_is_a_configuration_error_without_the_password() -> None:
    password = "-".join(("Geheim", "42"))
    url = f"postgresql+psycopg://sluis:{password}@127.0.0.1:1/lineage?connect_timeout=2"

    for attempt in (lambda: upgrade(url), lambda: current_revision(url)):
        with pytest.raises(ConfigurationError) as raised:
            attempt()
        rendered = "".join(traceback.format_exception(raised.value))
        assert password not in rendered
        assert "127.0.0.1:1" in str(raised.value)


def test_0004_keeps_the_state_rows_as_pupils_and_can_be_undone(
    lineage_url: str, engine: Engine
) -> None:
    from datetime import UTC, datetime

    from alembic import command

    from lineage.migrate import _config

    upgrade(lineage_url, to="0003")
    # Plain SQL: the models are at the head, whose runs table has more columns than 0003's.
    at = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    run = "00000000-0000-4000-8000-000000000001"
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO runs (run_id, started_at, status, "trigger", dry_run, '
                "sluis_version, parameters) VALUES (:run, :at, 'running', 't', false, 't', '{}')"
            ),
            {"run": run, "at": at},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (delivery_id, run_id, supplier, school, "
                "agreement_sha256, agreement_reference, fields, mode, counts, files, status, "
                "created_at) VALUES ('s:d', :run, 's', '07XY', :sha, 'VO', '[\"roepnaam\"]', "
                "'delta', '{}', '[]', 'delivered', :at)"
            ),
            {"run": run, "at": at, "sha": "a" * 64},
        )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO supplier_state (supplier, school, pupil_hash, row_hash, delivery_id)"
                " VALUES ('s', '07XY', :hash, :hash, 's:d')"
            ),
            {"hash": "a" * 64},
        )

    upgrade(lineage_url)
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT kind FROM supplier_state")).scalars().all()
    assert kinds == ["pupil"]

    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO supplier_state (supplier, school, pupil_hash, row_hash, "
                "delivery_id, kind) VALUES ('s', '07XY', :hash, :hash, 's:d', 'teacher')"
            ),
            {"hash": "c" * 64},
        )
        command.downgrade(_config(connection), "0003")
    with engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("supplier_state")}
        left = connection.execute(text("SELECT pupil_hash FROM supplier_state")).scalars().all()
    assert "kind" not in columns
    assert left == ["a" * 64]


def test_0006_lets_a_run_be_aborted_and_can_be_undone(lineage_url: str, engine: Engine) -> None:
    from datetime import UTC, datetime

    from alembic import command

    from lineage.migrate import _config

    upgrade(lineage_url, to="0005")
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    run = "00000000-0000-4000-8000-000000000005"
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO runs (run_id, started_at, status, "trigger", dry_run, '
                "sluis_version, parameters) VALUES (:run, :at, 'running', 't', false, 't', '{}')"
            ),
            {"run": run, "at": at},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (delivery_id, run_id, supplier, school, "
                "agreement_sha256, agreement_reference, fields, mode, counts, files, status, "
                "created_at) VALUES ('s:d', :run, 's', '07XY', :sha, 'VO', '[]', "
                "'full', '{}', '[]', 'delivered', :at)"
            ),
            {"run": run, "at": at, "sha": "a" * 64},
        )
    upgrade(lineage_url)  # with a delivery pointing at the run: its foreign key holds
    with engine.begin() as connection:
        connection.execute(text("UPDATE runs SET status = 'aborted'"))
        connection.execute(text("UPDATE deliveries SET status = 'publishing'"))
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0005")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT status FROM runs")).scalar_one() == "failed"
        assert connection.execute(text("SELECT status FROM deliveries")).scalar_one() == "failed"
        columns = {c["name"] for c in inspect(connection).get_columns("runs")}
    assert "heartbeat_at" not in columns
