"""What the rights commands (inzage, vergeet, audit) do, kept out of the CLI module."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from connectors.errors import ConfigurationError, UsageError
from connectors.i18n import _
from connectors.identifiers import canonical_brin, canonical_key, is_brin, quoted
from contracts.agreements import LoadedAgreement, load_agreement_set
from contracts.validation import ValidatedSchool
from lineage.audit import AuditHead, AuditVerification
from lineage.audit_anchors import run_anchors
from lineage.inzage import InzageReport, build_inzage, write_inzage
from lineage.rights import deliveries_for_pupil, erase, erased_hashes, get_erasure, pupil_hash
from lineage.rights import revoke as revoke_erasure
from lineage.state import pupil_is_known
from lineage.store import LineageStore, SourceRecord
from pipelines.datamap_command import school_name
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


def resolve_school(
    store: LineageStore,
    school: str | None,
    *,
    also: frozenset[str] = frozenset(),
    unknown_allowed: bool = False,
) -> str:
    """The school a request is about, as a canonical BRIN: given, or the only one known.

    Args:
        store: the lineage store; the schools of its runs are known.
        school: the BRIN as typed (any case, surrounding spaces), or None.
        also: more schools that are known (those of an export given with --source).
        unknown_allowed: accept a BRIN nobody knows yet (vergeet --verwacht).

    Raises:
        ConfigurationError: the school is not known (or not a BRIN).
        UsageError: no school given and lineage knows none or several.
    """
    with store.engine.connect() as connection:
        known = set(connection.execute(select(SourceRecord.school)).scalars()) | also
    if school:
        brin = canonical_brin(school) or ""
        if brin in known or (unknown_allowed and is_brin(brin)):
            return brin
        raise ConfigurationError(
            _(
                "Sluis kent geen school {school}: de lineage en de gegeven export kennen "
                "{known}; controleer de BRIN, of geef de huidige export van de school met "
                "--source"
            ).format(
                school=quoted(brin),
                known=", ".join(sorted(known)) if known else _("nog geen school"),
            )
        )
    if len(known) == 1:
        return next(iter(known))
    raise UsageError(
        _("noem de school met --school BRIN; de lineage kent {known}").format(
            known=", ".join(sorted(known))
            if known
            else _("nog geen school (draai eerst een synchronisatie)")
        )
    )


def _export_school(settings: Settings, source: Path, brin: str | None) -> list[ValidatedSchool]:
    """The schools of the export(s) at `source` (only `brin` when given), validated."""
    found = discover_schools(source, None, settings.consents_filename)
    schools = prepare_in_batches(
        found,
        today=date.today(),
        settings=settings,
    )
    return [s for s in schools if brin is None or s.brincode == brin]


def _in_export(school: ValidatedSchool, key: str) -> bool:
    """Whether the export holds the pupil, valid or quarantined."""
    problems = school.problems
    quarantined = problems.loc[problems["subject"] == "leerling", "leerlingkey"]
    return bool((school.pupils["leerlingkey"] == key).any() or (quarantined == key).any())


def _unknown_pupil(brin: str, source: Path | None) -> ConfigurationError:
    # The key is not repeated: the message may end up in a log.
    where = _("de lineage (geen levering, leveranciersstatus of vergeet-opdracht)")
    if source is not None:
        where = _("{where} noch de export {source}").format(where=where, source=source)
    return ConfigurationError(
        _(
            "Sluis kent dit leerlingnummer niet op school {brin}: {where} bevat het; "
            "controleer het leerlingnummer en de school, of geef de huidige export met --source"
        ).format(brin=brin, where=where)
    )


def forget(
    settings: Settings,
    key: str,
    *,
    school: str | None,
    reason: str,
    actor: str,
    restore: bool,
    source: Path | None = None,
    expected: bool = False,
) -> str:
    """Record an erasure (or, with restore, end it); return the school it applies to.

    Args:
        settings: the settings.
        key: the pupil's leerlingnummer, as typed.
        school: the school's BRIN, as typed; None when lineage knows one school.
        reason: why (the parents' request).
        actor: who records it.
        restore: end an earlier erasure instead.
        source: the school's current export: a pupil it holds is known.
        expected: the pupil is not known yet and will be in a later export.

    Raises:
        ConfigurationError: the school or the pupil is unknown (and not `expected`).
    """
    key = canonical_key(key)
    store = _store(settings)
    try:
        # An erasure made with another key than the runs use would never match.
        keys = check_run_keys(settings, store.engine, ())
        exported = _export_school(settings, source, None) if source is not None else []
        brin = resolve_school(
            store, school, also=frozenset(s.brincode for s in exported), unknown_allowed=expected
        )
        member = pupil_hash(f"{brin}:{key}", keys.membership)
        now = datetime.now(UTC)
        current = get_erasure(store.engine, member)
        active = current is not None and current.revoked_at is None
        if restore:
            if not active:
                raise ConfigurationError(
                    _(
                        "voor deze leerling van school {brin} staat geen actieve "
                        "vergeet-opdracht; controleer het leerlingnummer en de school"
                    ).format(brin=brin)
                )
            revoke_erasure(store.engine, member, actor, now, audit_key=keys.audit)
            return brin
        mine = [s for s in exported if s.brincode == brin]
        known = pupil_is_known(store.engine, member) or any(_in_export(s, key) for s in mine)
        if not known and not expected:
            raise _unknown_pupil(brin, source)
        if current is not None and active:
            raise ConfigurationError(
                _(
                    "deze leerling van school {brin} is al vergeten (sinds {since}); er is "
                    "niets gewijzigd"
                ).format(brin=brin, since=current.requested_at.date().isoformat())
            )
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
    """Build and write the inzage report for one pupil.

    Raises:
        ConfigurationError: Sluis knows neither the school nor, at that school, the pupil
            (in lineage or in the export given with `source`): a report would wrongly
            say that nothing was shared.
    """
    key = canonical_key(key)
    store = _store(settings)
    try:
        # With another key the pupil's hash matches nothing: "nothing shared" would be false.
        member_secret = checked_key(store.engine, membership_source(settings))
        exported = _export_school(settings, source, None) if source is not None else []
        brin = resolve_school(store, school, also=frozenset(s.brincode for s in exported))
        mine = [s for s in exported if s.brincode == brin]
        member = pupil_hash(f"{brin}:{key}", member_secret)
        if not (pupil_is_known(store.engine, member) or any(_in_export(s, key) for s in mine)):
            raise _unknown_pupil(brin, source)
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
            if not mine:
                raise ConfigurationError(
                    _("{source}: bevat geen export van school {brin}").format(
                        source=source, brin=brin
                    )
                )
            status_now, values = _current(
                mine[0], key, agreements, member_secret, erased_hashes(store.engine)
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
            school_name=school_name(settings, brin),
        )
    finally:
        store.dispose()
    html_path, json_path = write_inzage(report, out_dir)
    return report, html_path, json_path


def _current(
    school: ValidatedSchool,
    key: str,
    agreements: dict[str, LoadedAgreement],
    member_secret: bytes,
    erased: frozenset[str],
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Status and shared values of the pupil in the current export, per supplier."""
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
            # The school columns are in the header, not on the pupil's row.
            if "brincode" in agreement.field_names:
                values[supplier]["brincode"] = school.brincode
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
