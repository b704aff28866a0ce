"""The units of work the Prefect tasks wrap: prepare a school, deliver a school to a supplier.

Plain functions, so they are tested without Prefect. What they return to the flow is either
a validated school (kept in memory, never persisted) or an outcome holding only counts,
field names, hashes and locations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from connectors.drops.base import Delivery, Drop, build_manifest
from connectors.formats.registry import get_format
from connectors.sources.base import SOURCE_FILE, SOURCE_LINE, empty_frame
from connectors.sources.consents import read_consents
from connectors.sources.edexml import EdexmlSource
from contracts.agreements import LoadedAgreement
from contracts.validation import PROBLEM_COLUMNS, ValidatedSchool, validate_school
from pipelines.plan import SchoolInput
from policy.apply import apply_agreement

__all__ = [
    "DeliveryOutcome",
    "deliver_school",
    "delivery_id_for",
    "prepare_school",
    "write_quarantine_report",
]

_CONSENT_COLUMNS = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")


def prepare_school(school: SchoolInput, *, today: date) -> ValidatedSchool:
    """Extract one school's export and consents and validate them."""
    export = EdexmlSource().extract(school.export)
    if school.consents is not None:
        consents = read_consents(school.consents)
    else:
        # No consent export: nobody has consented, which is exactly what policy assumes.
        consents = empty_frame(_CONSENT_COLUMNS)
    return validate_school(export, consents, today=today)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened for one supplier and one school: counts and hashes, no pupil values."""

    supplier: str
    school: str
    status: str  # delivered, dry_run, agreement_expired
    delivery_id: str | None
    mode: str
    fields: tuple[str, ...]
    counts: dict[str, object]
    files: tuple[dict[str, object], ...] = ()
    location: str | None = None
    manifest_sha256: str | None = None
    agreement_sha256: str = ""
    agreement_reference: str = ""
    created_at: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def delivery_id_for(created_at: datetime, school: str, run_id: str) -> str:
    """Delivery folder name: sortable by time, unique per run and school."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{school}-{run_id[:8]}".lower()


def deliver_school(
    school: ValidatedSchool,
    loaded: LoadedAgreement,
    *,
    run_id: str,
    created_at: datetime,
    secret: bytes | None,
    drop: Drop | None,
    erased: frozenset[str] = frozenset(),
) -> DeliveryOutcome:
    """Apply one agreement to one school and publish the result (drop None = dry run)."""
    agreement = loaded.agreement
    today = created_at.date()
    base = {
        "supplier": agreement.id,
        "school": school.brincode,
        "mode": agreement.mode,
        "fields": tuple(agreement.field_names),
        "agreement_sha256": loaded.sha256,
        "agreement_reference": agreement.agreement.reference,
        "created_at": created_at.isoformat(),
    }
    if not agreement.is_valid_on(today):
        return DeliveryOutcome(
            status="agreement_expired",
            delivery_id=None,
            counts={},
            notes=(f"agreement {agreement.agreement.reference} is not in force on {today}",),
            **base,  # type: ignore[arg-type]
        )
    cut = apply_agreement(school, agreement, today=today, secret=secret, erased=erased)
    delivery_id = delivery_id_for(created_at, school.brincode, run_id)
    files = get_format(agreement.format.type).render(
        cut.frame,
        basename=f"{agreement.id}-{school.brincode.lower()}",
        options={"separator": agreement.format.separator} if agreement.format.type == "csv" else {},
    )
    manifest = build_manifest(
        supplier=agreement.id,
        run_id=run_id,
        school=school.brincode,
        created_at=created_at.isoformat(),
        mode=agreement.mode,
        files=files,
        fields=agreement.field_names,
        counts=cut.counts.as_dict(),
        extra={
            "schooljaar": school.schooljaar,
            "agreement": {"reference": agreement.agreement.reference, "sha256": loaded.sha256},
            "legal_basis": agreement.legal_basis.type.value,
        },
    )
    file_rows = tuple({"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in files)
    if drop is None:
        return DeliveryOutcome(
            status="dry_run",
            delivery_id=delivery_id,
            counts=cut.counts.as_dict(),
            files=file_rows,
            **base,  # type: ignore[arg-type]
        )
    receipt = drop.publish(
        Delivery(
            supplier=agreement.id, delivery_id=delivery_id, files=tuple(files), manifest=manifest
        )
    )
    return DeliveryOutcome(
        status="delivered",
        delivery_id=delivery_id,
        counts=cut.counts.as_dict(),
        files=file_rows,
        location=receipt.location,
        manifest_sha256=receipt.manifest_sha256,
        **base,  # type: ignore[arg-type]
    )


def write_quarantine_report(schools: list[ValidatedSchool], folder: Path) -> Path:
    """Write every school's problems to one CSV: file, line, key, column, rule, hint."""
    frames = [s.problems.assign(brincode=s.brincode) for s in schools if not s.problems.empty]
    columns = ["brincode", *PROBLEM_COLUMNS]
    report = (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )
    report = report.sort_values(["brincode", SOURCE_FILE, SOURCE_LINE, "rule"], kind="stable")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quarantine.csv"
    report.to_csv(path, index=False, sep=";", encoding="utf-8")
    return path
