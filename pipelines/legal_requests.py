"""`sluis verstrek`: answer a request of a recipient with a legal duty (leerplicht, OCW).

Such a recipient is never sent anything nightly; it gets what it asks for, for the pupils
it names or a scope (a school, jaargroepen), and only the fields of its agreement. The
delivery goes through the normal drop (manifest last, atomic) and is recorded in lineage
as a run with trigger `verstrek` whose parameters hold the requester and the request's
reference (never a pupil key), and in the audit log; the pupils' inzage then shows it.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from connectors.errors import ConfigurationError, SluisError, UsageError
from connectors.i18n import _, ngettext
from connectors.identifiers import canonical_brin, canonical_key
from contracts.agreements import LoadedAgreement, Scope, load_agreements
from contracts.validation import ValidatedSchool
from lineage.audit import AuditLog
from lineage.rights import LEGAL_REQUEST_TRIGGER, erased_hashes
from lineage.store import LineageStore
from pipelines.delivery import DeliveryOutcome, DeliveryTargets, deliver_schools
from pipelines.drops import archive_drop, drop_for, held_drop
from pipelines.flows import DROP_ROOT_MODE
from pipelines.holds import record_outcome
from pipelines.keys import check_run_keys
from pipelines.plan import discover_schools
from pipelines.recording import record_export
from pipelines.settings import Settings
from pipelines.work import prepare_in_batches

__all__ = ["LEGAL_REQUEST_TRIGGER", "LegalRequest", "answer_request"]

_TEXT_LENGTH = 200


@dataclass(frozen=True)
class LegalRequest:
    """What the authority asked for.

    Attributes:
        supplier: the agreement id (e.g. leerplicht).
        requester: who asked (the officer and the municipality), for the record.
        reference: the request's own reference (kenmerk), for the record.
        school: the school's BRIN, as typed; None when the export holds one school.
        pupils: leerlingkeys of the named pupils; empty means the whole scope.
        jaargroepen: limit the scope to these jaargroepen; empty means the agreement's.
    """

    supplier: str
    requester: str
    reference: str
    school: str | None = None
    pupils: tuple[str, ...] = ()
    jaargroepen: tuple[str, ...] = ()


def _one_line(value: str, option: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise UsageError(
            _("{option} is verplicht: zeg wie het vroeg, en het kenmerk van het verzoek").format(
                option=option
            )
        )
    if len(text) > _TEXT_LENGTH:
        raise UsageError(
            _("{option} is langer dan {limit} tekens; maak het korter").format(
                option=option, limit=_TEXT_LENGTH
            )
        )
    return text


def _agreement(settings: Settings, supplier: str) -> LoadedAgreement:
    [loaded] = load_agreements(settings.agreements_dir, [supplier])
    if not loaded.agreement.on_request:
        raise UsageError(
            _(
                "sluis verstrek beantwoordt alleen een ontvanger met een wettelijke taak; "
                "{supplier} heeft grondslag {basis} en krijgt zijn leveringen via sluis run"
            ).format(supplier=supplier, basis=loaded.agreement.legal_basis.type.value)
        )
    return loaded


def _scoped(loaded: LoadedAgreement, jaargroepen: Sequence[str]) -> LoadedAgreement:
    """The agreement narrowed to the asked jaargroepen (never widened beyond its own)."""
    if not jaargroepen:
        return loaded
    agreement = loaded.agreement
    own = agreement.scope.jaargroepen
    outside = [j for j in jaargroepen if own is not None and j not in own]
    if outside:
        raise UsageError(
            _(
                "--jaargroep {outside} valt buiten de scope van {supplier} (jaargroepen "
                "{own}); vraag alleen om wat de overeenkomst dekt"
            ).format(outside=", ".join(outside), supplier=agreement.id, own=", ".join(own or []))
        )
    scope = Scope.model_validate(
        {**agreement.scope.model_dump(), "jaargroepen": list(dict.fromkeys(jaargroepen))}
    )
    narrowed = agreement.model_copy(update={"scope": scope})
    return loaded.model_copy(update={"agreement": narrowed})


def _school(settings: Settings, source: Path, school: str | None) -> ValidatedSchool:
    found = discover_schools(source, None, settings.consents_filename)
    schools = prepare_in_batches(
        found,
        today=date.today(),
        settings=settings,
    )
    if school is not None:
        brin = canonical_brin(school) or ""
        schools = [s for s in schools if s.brincode == brin]
        if not schools:
            raise ConfigurationError(
                _("{source}: bevat geen export van school {brin}; controleer --school").format(
                    source=source, brin=brin or "?"
                )
            )
    if len(schools) != 1:
        raise UsageError(
            _(
                "{source} bevat {count} scholen; noem met --school BRIN de school waar het "
                "verzoek over gaat"
            ).format(source=source, count=len(schools))
        )
    return schools[0]


def _named(school: ValidatedSchool, pupils: Sequence[str]) -> ValidatedSchool:
    """Only the named pupils, each of whom must be valid in the export."""
    if not pupils:
        return school
    wanted = {canonical_key(p) for p in pupils}
    chosen = school.pupils["leerlingkey"].isin(wanted)
    missing = len(wanted) - int(chosen.sum())
    if missing:
        # The keys are not repeated: the message may end up in a log.
        raise ConfigurationError(
            ngettext(
                "{missing} van de {named} genoemde leerling(en) staat niet (geldig) in de "
                "export van school {school}; controleer de leerlingnummers, of herstel eerst "
                "de export (sluis check)",
                "{missing} van de {named} genoemde leerlingen staan niet (geldig) in de "
                "export van school {school}; controleer de leerlingnummers, of herstel eerst "
                "de export (sluis check)",
                missing,
            ).format(missing=missing, named=len(wanted), school=school.brincode)
        )
    return dataclasses.replace(
        school,
        pupils=school.pupils.loc[chosen].reset_index(drop=True),
        input_pupils=len(wanted),
        quarantined_pupils=0,
    )


def _make_drop_root(root: Path) -> None:
    """The drop root itself, as a run makes it; never its parents (an unmounted share)."""
    try:
        os.mkdir(root, DROP_ROOT_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigurationError(
            _(
                "{root}: de dropmap kan niet worden gemaakt ({reason}); controleer of de "
                "bovenliggende map bestaat en schrijfbaar is"
            ).format(root=root, reason=exc.strerror)
        ) from None
    os.chmod(root, DROP_ROOT_MODE)


def answer_request(
    settings: Settings, request: LegalRequest, *, source: Path, actor: str, version: str
) -> DeliveryOutcome:
    """Deliver what a legal-duty recipient asked for, and record who asked and why.

    Raises:
        UsageError: the supplier has no legal duty, requester or reference is missing, a
            jaargroep is outside the agreement, or the school is not named where needed.
        ConfigurationError: the school or a named pupil is not in the export, or a key
            is missing or differs.
        SluisError: the delivery failed (nothing was published half).
    """
    requester = _one_line(request.requester, "--aanvrager")
    reference = _one_line(request.reference, "--kenmerk")
    loaded = _scoped(_agreement(settings, request.supplier), request.jaargroepen)
    exported = _school(settings, source, request.school)
    school = _named(exported, request.pupils)
    _make_drop_root(settings.drop_dir)
    store = LineageStore(settings.lineage_url())
    store.create_schema()
    try:
        keys = check_run_keys(settings, store.engine, ())
        audit = AuditLog(store.engine, keys.audit)
        now = datetime.now(UTC).replace(microsecond=0)
        run_id = str(uuid.uuid4())
        store.start_run(
            run_id,
            started_at=now,
            trigger=LEGAL_REQUEST_TRIGGER,
            dry_run=False,
            parameters={
                "supplier": loaded.agreement.id,
                "school": school.brincode,
                "aanvrager": requester,
                "kenmerk": reference,
                "legal_reference": loaded.agreement.legal_basis.legal_reference,
                "named_pupils": len(request.pupils),
                "jaargroepen": list(request.jaargroepen),
            },
            sluis_version=version,
        )
        try:
            # The export read, as a run records it: lineage then knows the school.
            record_export(store, run_id, school, pupils_read=exported.input_pupils)
            [outcome] = deliver_schools(
                [school],
                loaded,
                run_id=run_id,
                created_at=now,
                secret=None,
                targets=DeliveryTargets(
                    drop=drop_for(loaded.agreement, settings, settings.drop_dir),
                    held=held_drop(settings),
                    archive=archive_drop(settings),
                ),
                # A parent's erasure still holds: the school decides, not Sluis, whether
                # the law overrides it for this request.
                erased=erased_hashes(store.engine),
                membership_secret=keys.membership,
                # Every request is answered in full: nothing is "unchanged since last time".
                states=None,
            )
            if outcome.status == "failed":
                raise SluisError("; ".join(outcome.notes) or _("de levering is mislukt"))
            record_outcome(store, settings, run_id, outcome, now)
            audit.append(
                actor,
                "legal_request",
                run_id,
                {
                    "supplier": outcome.supplier,
                    "school": outcome.school,
                    "delivery": outcome.delivery_id,
                    "aanvrager": requester,
                    "kenmerk": reference,
                    "delivered": int(outcome.counts.get("delivered", 0)),  # type: ignore[call-overload]
                },
                at=now,
            )
        except SluisError as exc:
            store.finish_run(
                run_id, status="failed", finished_at=datetime.now(UTC), message=str(exc)
            )
            raise
        store.finish_run(run_id, status="completed", finished_at=datetime.now(UTC))
        return outcome
    finally:
        store.dispose()
