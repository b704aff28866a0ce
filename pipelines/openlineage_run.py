"""Turn a run's schools and delivery outcomes into OpenLineage events, and emit them.

Glue between the flow and lineage/openlineage.py: it knows where settings say events go
and how a ValidatedSchool and a DeliveryOutcome map onto datasets and assertions.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime

from contracts.rules import RULE_HINTS
from contracts.staged import StagedSchool
from contracts.validation import ValidatedSchool
from lineage.audit import AuditHead
from lineage.openlineage import (
    CONSENT_EXPORT_FIELDS,
    AssertionSpec,
    InputSpec,
    LineageEmitter,
    abort_event,
    complete_event,
    delivery_output,
    export_fields,
    fail_event,
    start_event,
)
from pipelines.delivery import DeliveryOutcome
from pipelines.plan import SchoolInput
from pipelines.settings import Settings

__all__ = ["RunLineage"]

_CONSENT_FIELDS = [(name, "string") for name in CONSENT_EXPORT_FIELDS]


def _namespace() -> str:
    return f"file://{socket.gethostname() or 'localhost'}"


class RunLineage:
    """START, then COMPLETE, FAIL or ABORT, for one run."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.run_id = run_id
        if settings.openlineage_url is not None:
            api_key = settings.openlineage_api_key
            self.emitter = LineageEmitter.to_http(
                settings.openlineage_url.get_secret_value(),
                api_key.get_secret_value() if api_key is not None else None,
            )
        else:
            self.emitter = LineageEmitter.to_file(settings.state_dir / "openlineage.ndjson")
        self.namespace = _namespace()

    def _inputs(self, schools: Sequence[SchoolInput]) -> list[InputSpec]:
        specs = [
            InputSpec(self.namespace, str(s.export.resolve()), export_fields()) for s in schools
        ]
        specs += [
            InputSpec(self.namespace, str(s.consents.resolve()), _CONSENT_FIELDS)
            for s in schools
            if s.consents is not None
        ]
        return specs

    def start(self, schools: Sequence[SchoolInput], at: datetime) -> None:
        """Emit START with the exports the run is about to read."""
        self.emitter.emit(start_event(self.run_id, event_time=at, inputs=self._inputs(schools)))

    def complete(
        self,
        inputs: Sequence[SchoolInput],
        schools: Sequence[ValidatedSchool | StagedSchool],
        outcomes: Sequence[DeliveryOutcome],
        at: datetime,
        audit_head: AuditHead | None = None,
    ) -> None:
        """Emit COMPLETE: every delivery as an output, contract results as assertions.

        The audit log's head goes in as the ``sluisAudit`` run facet: an anchor of the
        log kept outside the database.
        """
        consent_of = {
            str(s.export.resolve()): str(s.consents.resolve()) for s in inputs if s.consents
        }
        source_of: dict[str, str] = {}
        assertions: list[AssertionSpec] = []
        for school in schools:
            export = str(school.export.path.resolve())
            source_of[school.brincode] = export
            failed = school.problems.groupby(["subject", "rule", "column"]).size()
            failed_rules = set()
            for (subject, rule, column), _count in failed.items():
                failed_rules.add(rule)
                on_consents = subject == "toestemming" and export in consent_of
                dataset = consent_of[export] if on_consents else export
                assertions.append(
                    AssertionSpec(str(rule), False, str(column), dataset=(self.namespace, dataset))
                )
            assertions += [
                AssertionSpec(rule, True, dataset=(self.namespace, export))
                for rule in sorted(set(RULE_HINTS) - failed_rules)
            ]
        outputs = []
        for outcome in outcomes:
            # A held delivery reached nobody (yet): its approval is recorded in lineage.
            if outcome.delivery_id is None or outcome.status not in ("delivered", "dry_run"):
                continue
            export = source_of[outcome.school]
            consents = consent_of.get(export)
            outputs.append(
                delivery_output(
                    outcome,
                    source_input=(self.namespace, export),
                    consent_input=(self.namespace, consents) if consents else None,
                )
            )
        self.emitter.emit(
            complete_event(
                self.run_id,
                event_time=at,
                inputs=self._inputs(inputs),
                outputs=outputs,
                assertions=assertions,
                audit_head=audit_head,
            )
        )

    def fail(self, message: str, at: datetime) -> None:
        """Emit FAIL with the run's one-line error."""
        self.emitter.emit(fail_event(self.run_id, event_time=at, message=message))

    def abort(self, message: str, at: datetime) -> None:
        """Emit ABORT: the run was killed or stopped by a signal."""
        self.emitter.emit(abort_event(self.run_id, event_time=at, message=message))

    def close(self) -> None:
        """Flush and close the transport."""
        self.emitter.close()
