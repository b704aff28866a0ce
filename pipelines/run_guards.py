"""What a run checks before it delivers, and leaves behind for later checks.

- `RunAgreements`: the agreements a run delivers under; a file that cannot be used skips
  only its own supplier, and the run ends failed, listing what it skipped.
- `check_keys`: every key the run needs, checked against lineage before anything is
  delivered or held (`pipelines.keys`).
- `record_audit_head`: the audit log's head in the run's Prefect artifact, one of the
  anchors `sluis audit verify --head` can be given later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from connectors.i18n import _
from contracts.agreements import (
    AgreementProblem,
    AgreementSet,
    LoadedAgreement,
    load_agreement_set,
)
from lineage.audit import AuditLog
from pipelines.keys import RunKeys, check_run_keys
from pipelines.settings import Settings

__all__ = [
    "AUDIT_HEAD_ARTIFACT",
    "ON_REQUEST_STATUS",
    "RunAgreements",
    "check_keys",
    "record_audit_head",
]

AUDIT_HEAD_ARTIFACT = "sluis-audit-head"
# The summary's status for a legal-duty supplier a run skips.
ON_REQUEST_STATUS = "alleen op verzoek"


@dataclass(frozen=True)
class RunAgreements:
    """The agreements of one run.

    Attributes:
        everything: every agreement that loads, selected or not (retention, versions).
        selected: the ones this run delivers under.
        problems: every agreement file that cannot be used.
        requested: the supplier ids the run was asked for; empty means all.
        on_request: the selected suppliers with a legal duty: skipped, they receive only
            what they ask for with `sluis verstrek`.
    """

    everything: list[LoadedAgreement]
    selected: list[LoadedAgreement]
    problems: list[AgreementProblem]
    requested: tuple[str, ...]
    on_request: tuple[str, ...] = ()

    def on_request_rows(self) -> list[dict[str, object]]:
        """A summary row per legal-duty supplier the run skipped: it delivers on request."""
        return [
            {
                "supplier": supplier,
                "school": "-",
                "status": ON_REQUEST_STATUS,
                "mode": "-",
                "input": 0,
                "delivered": 0,
                "withheld": "-",
                "quarantined": 0,
                "changes": "-",
                "reason": _("alleen op verzoek: sluis verstrek"),
                "location": "sluis verstrek",
            }
            for supplier in self.on_request
        ]

    @classmethod
    def load(cls, settings: Settings, suppliers: Sequence[str]) -> RunAgreements:
        """Load every agreement file; a bad one becomes a problem, not an error.

        Raises:
            UsageError: a requested supplier has no agreement file.
            AgreementError: the agreements folder does not exist.
        """
        found = load_agreement_set(settings.agreements_dir)
        only = list(suppliers) or None
        selected = found.select(only)
        # A legal-duty recipient gets only what it asks for (sluis verstrek), even when a
        # run names it.
        nightly = [a for a in selected.agreements if not a.agreement.on_request]
        return cls(
            found.agreements,
            nightly,
            found.problems,
            tuple(suppliers),
            tuple(a.agreement.id for a in selected.agreements if a.agreement.on_request),
        )

    def _is_selected(self, problem: AgreementProblem) -> bool:
        return not self.requested or problem.supplier in self.requested

    @property
    def skipped(self) -> list[AgreementProblem]:
        """Bad files of suppliers this run was asked to deliver: they get nothing."""
        return [p for p in self.problems if self._is_selected(p)]

    @property
    def others_broken(self) -> list[str]:
        """One line per bad file of a supplier this run was not asked for."""
        return [p.message for p in self.problems if not self._is_selected(p)]

    @property
    def broken_suppliers(self) -> frozenset[str]:
        """Suppliers whose file is bad: their agreement has not ended, so keep their state."""
        return frozenset(p.supplier for p in self.problems)

    @property
    def versions(self) -> dict[str, str | None]:
        """Each agreement file's hash (None: unreadable), for the audit log's versions."""
        versions: dict[str, str | None] = {a.agreement.id: a.sha256 for a in self.everything}
        versions.update({p.supplier: p.sha256 for p in self.problems})
        return versions

    def skipped_failures(self) -> list[str]:
        """The run's failure for the agreements it skipped, if any."""
        message = AgreementSet(self.selected, self.skipped).skipped_message()
        return [] if message is None else [message]


def check_keys(
    settings: Settings, engine: Engine, agreements: Sequence[LoadedAgreement]
) -> RunKeys:
    """Check the keys the run needs: membership, state sealing, audit and pseudonyms.

    Raises:
        ConfigurationError: a key is missing or differs (one line naming it).
    """
    pseudonymising = [a.agreement.id for a in agreements if "pseudoniem" in a.agreement.field_names]
    return check_run_keys(settings, engine, pseudonymising)


def record_audit_head(log: AuditLog) -> None:
    """Publish the audit log's head as the run's Prefect artifact (nothing for an empty log)."""
    head = log.head()
    if head is None:
        return
    create_markdown_artifact(
        key=AUDIT_HEAD_ARTIFACT,
        markdown=_(
            "Kop van het auditlog na deze run: `{head}`\n\n"
            "Controleer het log later tegen deze kop met `sluis audit verify --head {head}`."
        ).format(head=head),
        description=_("De laatste regel van het auditlog (volgnummer en MAC)"),
    )
