"""OpenLineage events for a Sluis run: names, counts, hashes and ids, never a pupil value.

The builders are pure: they turn what a run already knows (the exports it read, the
deliveries it made, the contract rules it checked) into `openlineage-python` `event_v2`
RunEvents. What goes into an event is limited to what the lineage store also keeps:
dataset namespaces and names (paths, delivery ids), canonical field names with their
catalog descriptions, row counts, SHA-256 digests, rule ids and a one-line error. The
small spec classes check their input on construction (catalog field names, 64-hex digests,
ids without spaces, single-line paths without passwords), so free text passed by mistake
raises instead of ending up in a lineage server.

Column lineage follows the catalog: a field an agreement shares as is maps DIRECT/IDENTITY
to the same canonical field of the export; a derived field (`contracts.catalog.DERIVED_FROM`)
maps DIRECT/TRANSFORMATION to its source fields, with `masking` taken from the catalog
(`geboortejaar` generalises the birth date, `pseudoniem` is a keyed hash); a
`toestemming_<categorie>` flag comes from the consent export.

`LineageEmitter` wraps an `OpenLineageClient` with either a file transport (one JSON event
per line, appended) or an HTTP transport (Marquez or any OpenLineage server). A failing
HTTP server never fails the run: it is logged as a warning naming only the exception type.

The specs and Sluis' run facet are in `lineage.openlineage_specs`, the emitter in
`lineage.openlineage_transport`; this module builds the events and names both again.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    JobFacet,
    OutputDatasetFacet,
    RunFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    schema_dataset,
)

from contracts.catalog import CONSENT_FLAG_PREFIX, DERIVED_FROM, lookup_field
from lineage.audit_chain import AuditHead
from lineage.openlineage_specs import (
    PRODUCER,
    AssertionSpec,
    DatasetRef,
    DeliveryLike,
    InputSpec,
    OutputSpec,
    SluisAuditRunFacet,
    delivery_output,
    export_fields,
)
from lineage.openlineage_specs import no_repeats as _unique
from lineage.openlineage_transport import LineageEmitter

# The same guards as the lineage store: one definition of a count, a digest and a message.
from lineage.values import Count, RunKey, Sha256, Token, UtcTime, boundary, check, fold

__all__ = [
    "CONSENT_EXPORT_FIELDS",
    "DEFAULT_JOB_NAME",
    "JOB_NAMESPACE",
    "PRODUCER",
    "AssertionSpec",
    "DatasetRef",
    "DeliveryLike",
    "InputSpec",
    "LineageEmitter",
    "OutputSpec",
    "SluisAuditRunFacet",
    "abort_event",
    "complete_event",
    "delivery_output",
    "export_fields",
    "fail_event",
    "running_event",
    "start_event",
]

JOB_NAMESPACE: Final = "sluis"
DEFAULT_JOB_NAME: Final = "sluis.sync"

# The consent export as the consent reader returns it (see contracts.consents).
CONSENT_EXPORT_FIELDS: Final = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
_CONSENT_VALUE = "waarde"
_CONSENT_CATEGORY = "categorie"


# -- builders ----------------------------------------------------------------------------


@boundary
def start_event(
    run_id: RunKey,
    *,
    job_name: Token = DEFAULT_JOB_NAME,
    event_time: UtcTime,
    inputs: Sequence[InputSpec],
) -> RunEvent:
    """The START event of a run: the exports it is about to read.

    Args:
        run_id: the run's UUID (the lineage store's run id).
        job_name: the job within the ``sluis`` namespace.
        event_time: when the run started (timezone-aware).
        inputs: the exports of the batch.
    """
    return _event(
        RunState.START,
        run_id,
        job_name=job_name,
        event_time=event_time,
        inputs=[_input_dataset(spec, assertions=()) for spec in _unique_inputs(inputs)],
    )


@boundary
def complete_event(
    run_id: RunKey,
    *,
    job_name: Token = DEFAULT_JOB_NAME,
    event_time: UtcTime,
    inputs: Sequence[InputSpec],
    outputs: Sequence[OutputSpec],
    assertions: Sequence[AssertionSpec],
    audit_head: AuditHead | None = None,
) -> RunEvent:
    """The COMPLETE event of a run: what it read, checked and delivered.

    Args:
        run_id: the run's UUID.
        job_name: the job within the ``sluis`` namespace.
        event_time: when the run finished (timezone-aware).
        inputs: the exports (and consent exports) the run read.
        outputs: one per delivery.
        assertions: contract rules and whether every row passed them, attached to the
            input they ran on as a `dataQualityAssertions` input facet.
        audit_head: the audit log's head, as a ``sluisAudit`` run facet.

    Raises:
        ValueError: an output or assertion names an input that is not among `inputs`, or
            column lineage would point at a field the input's schema does not have.
    """
    input_datasets, output_datasets = _datasets(inputs, outputs, assertions)
    run_facets: dict[str, RunFacet] = {}
    if audit_head is not None:
        run_facets["sluisAudit"] = SluisAuditRunFacet(
            seq=check(Count, audit_head.seq, "audit_head.seq"),
            mac=check(Sha256, audit_head.row_hash, "audit_head.row_hash"),
            producer=PRODUCER,
        )
    return _event(
        RunState.COMPLETE,
        run_id,
        job_name=job_name,
        event_time=event_time,
        inputs=input_datasets,
        outputs=output_datasets,
        run_facets=run_facets,
    )


@boundary
def running_event(
    run_id: RunKey,
    *,
    job_name: Token = DEFAULT_JOB_NAME,
    event_time: UtcTime,
    inputs: Sequence[InputSpec],
    outputs: Sequence[OutputSpec],
    assertions: Sequence[AssertionSpec],
) -> RunEvent:
    """A RUNNING event: part of what a run read, checked and delivered.

    A run of thousands of schools reports its datasets a part at a time, so no event (and
    no copy of it in the client) grows with the run; OpenLineage consumers merge the
    inputs and outputs of a run's events. Same arguments and checks as `complete_event`,
    each part naming only its own inputs.
    """
    input_datasets, output_datasets = _datasets(inputs, outputs, assertions)
    return _event(
        RunState.RUNNING,
        run_id,
        job_name=job_name,
        event_time=event_time,
        inputs=input_datasets,
        outputs=output_datasets,
    )


def _datasets(
    inputs: Sequence[InputSpec], outputs: Sequence[OutputSpec], assertions: Sequence[AssertionSpec]
) -> tuple[list[InputDataset], list[OutputDataset]]:
    """The input datasets with their assertions, and the outputs with their column lineage."""
    specs = _unique_inputs(inputs)
    by_ref = {spec.ref: spec for spec in specs}
    of_input = _assertions_by_input(assertions, by_ref)
    input_datasets = [_input_dataset(spec, assertions=of_input(spec.ref)) for spec in specs]
    return input_datasets, [_output_dataset(spec, by_ref) for spec in outputs]


@boundary
def fail_event(
    run_id: RunKey, *, job_name: Token = DEFAULT_JOB_NAME, event_time: UtcTime, message: str
) -> RunEvent:
    """The FAIL event of a run, with an `errorMessage` run facet.

    Args:
        run_id: the run's UUID.
        job_name: the job within the ``sluis`` namespace.
        event_time: when the run failed (timezone-aware).
        message: the Sluis error, which names files, rules and ids but holds no pupil
            value. It is folded onto one line and cut at 500 characters; no stack trace is
            sent.
    """
    return _ended_event(RunState.FAIL, run_id, job_name, event_time, message, "run failed")


@boundary
def abort_event(
    run_id: RunKey, *, job_name: Token = DEFAULT_JOB_NAME, event_time: UtcTime, message: str
) -> RunEvent:
    """The ABORT event of a run that was killed or stopped by a signal (one-line reason)."""
    return _ended_event(RunState.ABORT, run_id, job_name, event_time, message, "run aborted")


def _ended_event(
    state: RunState,
    run_id: str,
    job_name: str,
    event_time: datetime,
    message: object,
    otherwise: str,
) -> RunEvent:
    """A FAIL or ABORT event: `message` folded on one line (`otherwise` if it is empty)."""
    facet = error_message_run.ErrorMessageRunFacet(
        message=fold(str(message)) or otherwise, programmingLanguage="python", producer=PRODUCER
    )
    return _event(
        state, run_id, job_name=job_name, event_time=event_time, run_facets={"errorMessage": facet}
    )


def _event(
    state: RunState,
    run_id: str,
    *,
    job_name: str,
    event_time: datetime,
    inputs: list[InputDataset] | None = None,
    outputs: list[OutputDataset] | None = None,
    run_facets: dict[str, RunFacet] | None = None,
) -> RunEvent:
    job_facets: dict[str, JobFacet] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="SLUIS", jobType="JOB", producer=PRODUCER
        )
    }
    return RunEvent(
        eventType=state,
        eventTime=event_time.isoformat(),
        run=Run(runId=run_id, facets=run_facets or {}),
        job=Job(namespace=JOB_NAMESPACE, name=job_name, facets=job_facets),
        producer=PRODUCER,
        inputs=inputs or [],
        outputs=outputs or [],
    )


def _schema(fields: Sequence[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    columns = []
    for position, (name, kind) in enumerate(fields, start=1):
        info = lookup_field(name)
        columns.append(
            schema_dataset.SchemaDatasetFacetFields(
                name=name,
                type=kind,
                description=info.description if info else None,
                ordinal_position=position,
            )
        )
    return schema_dataset.SchemaDatasetFacet(fields=columns, producer=PRODUCER)


def _input_dataset(spec: InputSpec, *, assertions: Sequence[AssertionSpec]) -> InputDataset:
    facets: dict[str, DatasetFacet] = {"schema": _schema(spec.fields)}
    input_facets: dict[str, InputDatasetFacet] = {}
    if assertions:
        input_facets["dataQualityAssertions"] = (
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=[
                    data_quality_assertions_dataset.Assertion(
                        assertion=a.assertion,
                        success=a.success,
                        column=a.column,
                        severity=a.severity,
                        params=None,
                    )
                    for a in assertions
                ],
                producer=PRODUCER,
            )
        )
    return InputDataset(
        namespace=spec.namespace, name=spec.name, facets=facets, inputFacets=input_facets
    )


def _output_dataset(spec: OutputSpec, inputs: dict[DatasetRef, InputSpec]) -> OutputDataset:
    source = inputs.get(spec.source_input)
    if source is None:
        raise ValueError(f"output {spec.name}: its source_input is not an input of the run")
    consent = None
    if spec.consent_input is not None:
        consent = inputs.get(spec.consent_input)
        if consent is None:
            raise ValueError(f"output {spec.name}: its consent_input is not an input of the run")
    lineage = {name: _column_lineage(name, source, consent) for name in spec.fields}
    facets: dict[str, DatasetFacet] = {
        "schema": _schema([(name, "string") for name in spec.fields]),
        "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(
            fields=lineage, producer=PRODUCER
        ),
    }
    if spec.file_sha256s:
        # The files' own digests, sorted: each one can be checked with sha256sum.
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=",".join(sorted(spec.file_sha256s)), producer=PRODUCER
        )
    output_facets: dict[str, OutputDatasetFacet] = {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=spec.row_count,
            size=spec.size,
            fileCount=len(spec.file_sha256s),
            producer=PRODUCER,
        )
    }
    return OutputDataset(
        namespace=spec.namespace, name=spec.name, facets=facets, outputFacets=output_facets
    )


def _column_lineage(
    name: str, source: InputSpec, consent: InputSpec | None
) -> column_lineage_dataset.Fields:
    """Where one delivered field comes from, as the catalog says."""
    info = lookup_field(name)
    if info is None:  # OutputSpec already refused it; kept for the type checker
        raise ValueError(f"delivered field {name} is not in the field catalog")
    if name in DERIVED_FROM:
        inputs = [
            _input_field(source, field, "DIRECT", "TRANSFORMATION", info.masked, info.description)
            for field in DERIVED_FROM[name]
        ]
    elif name.startswith(CONSENT_FLAG_PREFIX):
        # ja when the parents' current choice for this category is ja; no consent export
        # means nobody consented, and the flag comes from no field at all.
        inputs = []
        if consent is not None:
            inputs = [
                _input_field(consent, _CONSENT_VALUE, "DIRECT", "TRANSFORMATION", False),
                _input_field(consent, _CONSENT_CATEGORY, "INDIRECT", "FILTER", False),
            ]
    else:
        inputs = [_input_field(source, name, "DIRECT", "IDENTITY", info.masked)]
    return column_lineage_dataset.Fields(inputFields=inputs)


def _input_field(
    dataset: InputSpec,
    field: str,
    kind: str,
    subtype: str,
    masking: bool,
    description: str | None = None,
) -> column_lineage_dataset.InputField:
    if field not in {name for name, _ in dataset.fields}:
        raise ValueError(f"column lineage: {dataset.name} has no field {field}")
    return column_lineage_dataset.InputField(
        namespace=dataset.namespace,
        name=dataset.name,
        field=field,
        transformations=[
            column_lineage_dataset.Transformation(
                type=kind, subtype=subtype, description=description, masking=masking
            )
        ],
    )


def _assertions_by_input(
    assertions: Sequence[AssertionSpec], by_ref: dict[DatasetRef, InputSpec]
) -> Callable[[DatasetRef], list[AssertionSpec]]:
    """The assertions of each input (its own and those on every input), in their order.

    One pass over the assertions, not one per input: a run's assertions grow with its
    schools, and so do its inputs.
    """
    general: list[tuple[int, AssertionSpec]] = []
    own: dict[DatasetRef, list[tuple[int, AssertionSpec]]] = {}
    for position, assertion in enumerate(assertions):
        if assertion.dataset is None:
            general.append((position, assertion))
        elif assertion.dataset not in by_ref:
            raise ValueError(f"assertion {assertion.assertion}: its dataset is not an input")
        else:
            own.setdefault(assertion.dataset, []).append((position, assertion))

    def of_input(ref: DatasetRef) -> list[AssertionSpec]:
        mine = own.get(ref, [])
        merged = heapq.merge(general, mine, key=lambda entry: entry[0]) if general else mine
        return [assertion for _, assertion in merged]

    return of_input


def _unique_inputs(inputs: Sequence[InputSpec]) -> list[InputSpec]:
    specs = list(inputs)
    _unique([f"{s.namespace}\n{s.name}" for s in specs], "inputs")
    return specs
