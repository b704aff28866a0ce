"""Turn a run's schools and delivery outcomes into OpenLineage events, and emit them.

Glue between the flow and lineage/openlineage.py: it knows where settings say events go
and how a ValidatedSchool and a DeliveryOutcome map onto datasets and assertions.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime

from contracts.rules import RULE_HINTS
from contracts.staged import StagedSchool, problems_table
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
    running_event,
    start_event,
)
from pipelines.delivery import DeliveryOutcome
from pipelines.plan import SchoolInput
from pipelines.settings import Settings

__all__ = ["SCHOOLS_PER_EVENT", "RunLineage"]

_CONSENT_FIELDS = [(name, "string") for name in CONSENT_EXPORT_FIELDS]
# Schools per RUNNING/COMPLETE event: a few hundred outputs and a few thousand assertions.
SCHOOLS_PER_EVENT = 100


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
        """Emit START with the exports the run is about to read.

        Past SCHOOLS_PER_EVENT schools, START names the first part and a RUNNING event
        each further part (7,000 schools in one START took 340 MB to build).
        """
        for start in range(0, max(len(schools), 1), SCHOOLS_PER_EVENT):
            part = self._inputs(schools[start : start + SCHOOLS_PER_EVENT])
            self.emitter.emit(
                start_event(self.run_id, event_time=at, inputs=part)
                if start == 0
                else running_event(
                    self.run_id, event_time=at, inputs=part, outputs=[], assertions=[]
                )
            )

    def complete(
        self,
        inputs: Sequence[SchoolInput],
        schools: Sequence[ValidatedSchool | StagedSchool],
        outcomes: Sequence[DeliveryOutcome],
        at: datetime,
        audit_head: AuditHead | None = None,
    ) -> None:
        """Emit COMPLETE: every delivery as an output, contract results as assertions.

        A run of more than SCHOOLS_PER_EVENT schools reports them in parts: a RUNNING
        event per part, the last part in COMPLETE. One event for 7,000 schools (49,000
        outputs, 266,000 assertions, each input's schema) took gigabytes to build, copy
        and serialise; a part takes what its schools take. The audit log's head goes in
        COMPLETE as the ``sluisAudit`` run facet: an anchor of the log kept outside the
        database.
        """
        consent_of = {
            str(s.export.resolve()): str(s.consents.resolve()) for s in inputs if s.consents
        }
        source_of = {school.brincode: str(school.export.path.resolve()) for school in schools}
        parts = [
            schools[start : start + SCHOOLS_PER_EVENT]
            for start in range(0, len(schools), SCHOOLS_PER_EVENT)
        ] or [[]]
        part_of = {school.brincode: n for n, part in enumerate(parts) for school in part}
        # Each part's deliveries, in the order they were made.
        outcomes_of: list[list[DeliveryOutcome]] = [[] for _part in parts]
        for outcome in outcomes:
            # A held delivery reached nobody (yet): its approval is recorded in lineage.
            if outcome.delivery_id is None or outcome.status not in ("delivered", "dry_run"):
                continue
            outcomes_of[part_of[outcome.school]].append(outcome)
        # Each export goes with its school's part; one no validated school came from
        # still belongs to the run, in the last.
        part_of_export = {source_of[brincode]: n for brincode, n in part_of.items()}
        inputs_of: list[list[SchoolInput]] = [[] for _part in parts]
        for school_input in inputs:
            at_part = part_of_export.get(str(school_input.export.resolve()), len(parts) - 1)
            inputs_of[at_part].append(school_input)
        for number, part in enumerate(parts, start=1):
            specs = self._inputs(inputs_of[number - 1])
            assertions = [
                a
                for school in part
                for a in self._assertions(school, source_of[school.brincode], consent_of)
            ]
            outputs = [
                delivery_output(
                    outcome,
                    source_input=(self.namespace, source_of[outcome.school]),
                    consent_input=(self.namespace, consents)
                    if (consents := consent_of.get(source_of[outcome.school]))
                    else None,
                )
                for outcome in outcomes_of[number - 1]
            ]
            if number < len(parts):
                event = running_event(
                    self.run_id, event_time=at, inputs=specs, outputs=outputs, assertions=assertions
                )
            else:
                event = complete_event(
                    self.run_id,
                    event_time=at,
                    inputs=specs,
                    outputs=outputs,
                    assertions=assertions,
                    audit_head=audit_head,
                )
            self.emitter.emit(event)

    def _assertions(
        self, school: ValidatedSchool | StagedSchool, export: str, consent_of: dict[str, str]
    ) -> list[AssertionSpec]:
        """The contract rules of one school (read from `export`): failed, and all passed."""
        failed_rules = set()
        assertions = []
        for subject, rule, column in _failed(school):
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
        return assertions

    def fail(self, message: str, at: datetime) -> None:
        """Emit FAIL with the run's one-line error."""
        self.emitter.emit(fail_event(self.run_id, event_time=at, message=message))

    def abort(self, message: str, at: datetime) -> None:
        """Emit ABORT: the run was killed or stopped by a signal."""
        self.emitter.emit(abort_event(self.run_id, event_time=at, message=message))

    def close(self) -> None:
        """Flush and close the transport."""
        self.emitter.close()


def _failed(school: ValidatedSchool | StagedSchool) -> list[tuple[str, str, str]]:
    """Each (subject, rule, column) a school's problems name, sorted; a missing part skips it.

    What `problems.groupby(["subject", "rule", "column"])` gave, read as Arrow in plain
    Python: a school has a handful of problem rows, and a pandas frame and a groupby for
    each of 7,000 schools cost more memory than every event of the run.
    """
    table = problems_table(school)
    columns = [table.column(name).to_pylist() for name in ("subject", "rule", "column")]
    return sorted(
        {
            (subject, rule, column)
            for subject, rule, column in zip(*columns, strict=True)
            if subject is not None and rule is not None and column is not None
        }
    )
