"""What the rights commands (inzage, vergeet, audit) do, kept out of the CLI module."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from connectors.errors import UsageError
from contracts.agreements import LoadedAgreement, load_agreement_set
from lineage.audit import AuditHead, AuditVerification
from lineage.audit_anchors import run_anchors
from lineage.inzage import InzageReport, build_inzage, write_inzage
from lineage.rights import deliveries_for_pupil, erase, erased_hashes, get_erasure, pupil_hash
from lineage.rights import revoke as revoke_erasure
from lineage.store import LineageStore, SourceRecord
from pipelines.keys import audit_log, check_run_keys, checked_key, membership_source
from pipelines.plan import discover_schools
from pipelines.settings import Settings
from pipelines.work import prepare_in_batches
from policy.apply import apply_agreement_batch

__all__ = ["forget", "inzage", "resolve_school", "verify_audit"]


def _store(settings: Settings) -> LineageStore:
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    return store


def resolve_school(store: LineageStore, school: str | None) -> str:
    """The school a request is about: given, or the only one lineage knows."""
    with store.engine.connect() as connection:
        known = sorted(set(connection.execute(select(SourceRecord.school)).scalars()))
    if school:
        return school
    if len(known) == 1:
        return known[0]
    raise UsageError(
        "name the school with --school BRIN; lineage knows "
        + (", ".join(known) if known else "no school yet (run a sync first)")
    )


def forget(
    settings: Settings, key: str, *, school: str | None, reason: str, actor: str, restore: bool
) -> str:
    """Record an erasure (or, with restore, end it); return the school it applies to."""
    store = _store(settings)
    try:
        # An erasure made with another key than the runs use would never match.
        keys = check_run_keys(settings, store.engine, ())
        brin = resolve_school(store, school)
        member = pupil_hash(f"{brin}:{key}", keys.membership)
        now = datetime.now(UTC)
        if restore:
            if get_erasure(store.engine, member) is None:
                raise UsageError(f"no erasure recorded for pupil {key} of school {brin}")
            revoke_erasure(store.engine, member, actor, now, audit_key=keys.audit)
        else:
            erase(store.engine, member, actor, reason, now, audit_key=keys.audit)
        return brin
    finally:
        store.dispose()


def inzage(
    settings: Settings,
    key: str,
    *,
    school: str | None,
    source: Path | None,
    out_dir: Path,
) -> tuple[InzageReport, Path, Path]:
    """Build and write the inzage report for one pupil."""
    store = _store(settings)
    try:
        # With another key the pupil's hash matches nothing: "nothing shared" would be false.
        member_secret = checked_key(store.engine, membership_source(settings))
        brin = resolve_school(store, school)
        member = pupil_hash(f"{brin}:{key}", member_secret)
        found = load_agreement_set(settings.agreements_dir)
        agreements = {a.agreement.id: a for a in found.agreements}
        latest = {
            supplier: last.delivery_id
            for supplier in agreements
            if (last := store.last_delivery(supplier, brin)) is not None
        }
        status_now: dict[str, str] | None = None
        values: dict[str, dict[str, str]] | None = None
        if source is not None:
            status_now, values = _current(
                settings, source, brin, key, agreements, member_secret, erased_hashes(store.engine)
            )
        report = build_inzage(
            leerlingkey=key,
            school=brin,
            deliveries=deliveries_for_pupil(store.engine, member),
            agreements={k: v.agreement for k, v in agreements.items()},
            erasure=get_erasure(store.engine, member),
            latest_delivery=latest,
            status_now=status_now,
            current_values=values,
        )
    finally:
        store.dispose()
    html_path, json_path = write_inzage(report, out_dir)
    return report, html_path, json_path


def _current(
    settings: Settings,
    source: Path,
    brin: str,
    key: str,
    agreements: dict[str, LoadedAgreement],
    member_secret: bytes,
    erased: frozenset[str],
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Status and shared values of the pupil in the current export, per supplier."""
    found = discover_schools(source, None, settings.consents_filename)
    schools = [
        s
        for s in prepare_in_batches(
            found,
            today=date.today(),
            batch_size=settings.batch_size,
            edexml_xsd=settings.edexml_xsd,
            csv_column_map=settings.csv_column_map,
        )
        if s.brincode == brin
    ]
    if not schools:
        raise UsageError(f"{source}: holds no export of school {brin}")
    school = schools[0]
    quarantined = set(
        school.problems.loc[
            (school.problems["severity"] == "error") & (school.problems["subject"] == "leerling"),
            "leerlingkey",
        ]
    )
    row = school.pupils.loc[school.pupils["leerlingkey"] == key]
    status: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    for supplier, loaded in agreements.items():
        agreement = loaded.agreement
        cut = apply_agreement_batch(
            [school],
            agreement,
            today=date.today(),
            secret=b"0" * 32,
            erased=erased,
            membership_secret=member_secret,
        )[0]
        if key in set(cut.delivered_keys):
            status[supplier] = "delivered"
        elif key in cut.withheld.index:
            status[supplier] = str(cut.withheld.loc[key])
        elif key in quarantined:
            status[supplier] = "quarantined"
        if not row.empty:
            shared = [n for n in agreement.field_names if n in row.columns]
            values[supplier] = {
                n: str(row.iloc[0][n]) for n in shared if isinstance(row.iloc[0][n], str)
            }
    return status, values


def verify_audit(settings: Settings, head: AuditHead | None = None) -> AuditVerification:
    """Check the audit log's MAC chain against its anchors and a head kept elsewhere."""
    store = _store(settings)
    try:
        return audit_log(settings, store.engine).verify(
            expected_head=head, anchors=run_anchors(store.engine)
        )
    finally:
        store.dispose()
