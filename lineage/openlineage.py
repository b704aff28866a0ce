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
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol, Self
from urllib.parse import urlsplit

import attr
from openlineage.client import OpenLineageClient
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
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)
from openlineage.client.transport.transport import Transport

from connectors.i18n import _
from connectors.private_files import make_private_dir, make_private_file
from contracts.catalog import CONSENT_FLAG_PREFIX, DERIVED_FROM, field_catalog, lookup_field
from lineage.audit import AuditHead

# The same guards as the lineage store: one definition of a field name and a digest.
from lineage.values import field_name as _field_name
from lineage.values import sha256_hex as _sha256

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
    "start_event",
]

PRODUCER: Final = "https://github.com/sluis/sluis"
JOB_NAMESPACE: Final = "sluis"
DEFAULT_JOB_NAME: Final = "sluis.sync"

# The consent export as the consent reader returns it (see contracts.consents).
CONSENT_EXPORT_FIELDS: Final = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
_CONSENT_VALUE = "waarde"
_CONSENT_CATEGORY = "categorie"

# A dataset as OpenLineage names it: (namespace, name).
DatasetRef = tuple[str, str]

_log = logging.getLogger(__name__)

# Lengths double as a guard: a name, id or rule never needs more, free text would.
_TOKEN_LENGTH: Final = 128
_DATASET_LENGTH: Final = 1024
_MESSAGE_LENGTH: Final = 500

_TOKEN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

# The client merges this over an openlineage.yml and OPENLINEAGE__* variables, so an
# ambient configuration cannot add environment-variable or git facets, filter events out
# or rename datasets: what is emitted is exactly what the builders made (plus the
# client's own `tags` run facet, which holds its version).
_PINNED_CLIENT_CONFIG: Final[dict[str, Any]] = {
    "facets": {"environment_variables": [], "source_code_location": {"disabled": True}},
    "filters": [],
    "dataset": {"reducing_enabled": False, "disabled_trimmers": [], "extra_trimmers": []},
}


# -- Sluis' own run facet ----------------------------------------------------------------

AUDIT_FACET_SCHEMA: Final = (
    f"{PRODUCER}/blob/main/lineage/openlineage_facets/SluisAuditRunFacet.json"
    "#/$defs/SluisAuditRunFacet"
)


@attr.define
class SluisAuditRunFacet(RunFacet):
    """The audit log's head when the run completed: an anchor outside the database.

    Its JSON schema is lineage/openlineage_facets/SluisAuditRunFacet.json; the key in an
    event's run facets is ``sluisAudit``.
    """

    seq: int
    mac: str

    @staticmethod
    def _get_schema() -> str:
        return AUDIT_FACET_SCHEMA


# -- input specs -------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """One export the run read.

    Attributes:
        namespace: where it lives, e.g. ``file://<host>`` or ``sluis://<brincode>``.
        name: the export's path within that namespace.
        fields: canonical field names with their type (``"string"``), in schema order.
    """

    namespace: str
    name: str
    fields: Sequence[tuple[str, str]]

    def __post_init__(self) -> None:
        _dataset_part(self.namespace, "namespace")
        _dataset_part(self.name, "name")
        pairs = tuple(self.fields)
        for pair in pairs:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError("fields must be (name, type) pairs")
            _field_name(pair[0], "field name")
            _token(pair[1], "field type")
        _unique([name for name, _ in pairs], "fields")
        object.__setattr__(self, "fields", pairs)

    @property
    def ref(self) -> DatasetRef:
        """The dataset's (namespace, name)."""
        return (self.namespace, self.name)


@dataclass(frozen=True)
class OutputSpec:
    """One delivery: one output dataset per supplier and school.

    Attributes:
        namespace: e.g. ``sluis-drop://<supplier>``.
        name: the delivery's location, or its id when it has none (a dry run).
        fields: the delivered field names, in delivery order; every one must be in the
            catalog.
        row_count: delivered pupils.
        file_sha256s: SHA-256 of every delivered file.
        source_input: (namespace, name) of the export the pupils came from.
        consent_input: (namespace, name) of the consent export, when the school has one;
            the source of `toestemming_<categorie>` flags.
        size: bytes delivered, when known.
    """

    namespace: str
    name: str
    fields: Sequence[str]
    row_count: int
    file_sha256s: Sequence[str]
    source_input: DatasetRef
    consent_input: DatasetRef | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        _dataset_part(self.namespace, "namespace")
        _dataset_part(self.name, "name")
        names = tuple(_field_name(name, "delivered field") for name in self.fields)
        _unique(list(names), "fields")
        for name in names:
            if lookup_field(name) is None:
                raise ValueError(f"delivered field {name} is not in the field catalog")
        _count(self.row_count, "row_count")
        digests = tuple(_sha256(digest, "file_sha256s") for digest in self.file_sha256s)
        _dataset_ref(self.source_input, "source_input")
        if self.consent_input is not None:
            _dataset_ref(self.consent_input, "consent_input")
        if self.size is not None:
            _count(self.size, "size")
        object.__setattr__(self, "fields", names)
        object.__setattr__(self, "file_sha256s", digests)


@dataclass(frozen=True)
class AssertionSpec:
    """One contract rule and whether every row passed it.

    Attributes:
        assertion: the rule id, as in the quarantine report (e.g. ``leerlingkey_unique``).
        success: False when at least one row failed the rule.
        column: the canonical field the rule is about; None for a rule on whole rows.
        severity: ``error`` (the row is quarantined) or ``warn``; None when not known.
        dataset: (namespace, name) of the input the rule ran on; None for every input
            of the run (a run that read one export).
    """

    assertion: str
    success: bool
    column: str | None = None
    severity: Literal["error", "warn"] | None = None
    dataset: DatasetRef | None = None

    def __post_init__(self) -> None:
        _token(self.assertion, "assertion")
        if not isinstance(self.success, bool):
            raise ValueError("success must be a bool")
        if self.column is not None:
            _field_name(self.column, "column")
        if self.severity not in (None, "error", "warn"):
            raise ValueError("severity must be error, warn or None")
        if self.dataset is not None:
            _dataset_ref(self.dataset, "dataset")


class DeliveryLike(Protocol):
    """What `delivery_output` reads from a delivery outcome (pipelines.work.DeliveryOutcome)."""

    @property
    def supplier(self) -> str:
        """The supplier id."""

    @property
    def delivery_id(self) -> str | None:
        """The delivery folder name."""

    @property
    def location(self) -> str | None:
        """Where the drop published it; None for a dry run."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The delivered field names."""

    @property
    def counts(self) -> dict[str, object]:
        """input, delivered, withheld and quarantined."""

    @property
    def files(self) -> tuple[dict[str, object], ...]:
        """name, sha256 and rows per delivered file."""


def delivery_output(
    delivery: DeliveryLike, *, source_input: DatasetRef, consent_input: DatasetRef | None = None
) -> OutputSpec:
    """Describe one delivery outcome as an output dataset.

    The namespace is ``sluis-drop://<supplier>``; the name is the delivery's location, or
    its id for a dry run, which published nothing.

    Args:
        delivery: the outcome of delivering one school to one supplier.
        source_input: (namespace, name) of that school's export.
        consent_input: (namespace, name) of that school's consent export, if any.

    Raises:
        ValueError: the outcome has no delivery (an expired agreement) or its counts or
            files are not what a delivery records.
    """
    name = delivery.location or delivery.delivery_id
    if name is None:
        raise ValueError(f"{delivery.supplier}: no delivery, so no output dataset")
    return OutputSpec(
        namespace=f"sluis-drop://{_token(delivery.supplier, 'supplier')}",
        name=name,
        fields=list(delivery.fields),
        row_count=_count(delivery.counts.get("delivered"), "counts['delivered']"),
        file_sha256s=[_sha256(f.get("sha256"), "files[].sha256") for f in delivery.files],
        source_input=source_input,
        consent_input=consent_input,
    )


def export_fields() -> list[tuple[str, str]]:
    """Canonical fields of a school export (catalog order, derived fields left out)."""
    return [(name, "string") for name in field_catalog() if name not in DERIVED_FROM]


# -- builders ----------------------------------------------------------------------------


def start_event(
    run_id: str,
    *,
    job_name: str = DEFAULT_JOB_NAME,
    event_time: datetime,
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


def complete_event(
    run_id: str,
    *,
    job_name: str = DEFAULT_JOB_NAME,
    event_time: datetime,
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
    specs = _unique_inputs(inputs)
    by_ref = {spec.ref: spec for spec in specs}
    of_input = _assertions_by_input(assertions, by_ref)
    input_datasets = [_input_dataset(spec, assertions=of_input(spec.ref)) for spec in specs]
    output_datasets = [_output_dataset(spec, by_ref) for spec in outputs]
    run_facets: dict[str, RunFacet] = {}
    if audit_head is not None:
        run_facets["sluisAudit"] = SluisAuditRunFacet(
            seq=_count(audit_head.seq, "audit_head.seq"),
            mac=_sha256(audit_head.row_hash, "audit_head.row_hash"),
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


def fail_event(
    run_id: str, *, job_name: str = DEFAULT_JOB_NAME, event_time: datetime, message: str
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
    folded = " ".join(_CONTROL.sub(" ", str(message)).split())[:_MESSAGE_LENGTH]
    facet = error_message_run.ErrorMessageRunFacet(
        message=folded or "run failed", programmingLanguage="python", producer=PRODUCER
    )
    return _event(
        RunState.FAIL,
        run_id,
        job_name=job_name,
        event_time=event_time,
        run_facets={"errorMessage": facet},
    )


def abort_event(
    run_id: str, *, job_name: str = DEFAULT_JOB_NAME, event_time: datetime, message: str
) -> RunEvent:
    """The ABORT event of a run that was killed or stopped by a signal (one-line reason)."""
    folded = " ".join(_CONTROL.sub(" ", str(message)).split())[:_MESSAGE_LENGTH]
    facet = error_message_run.ErrorMessageRunFacet(
        message=folded or "run aborted", programmingLanguage="python", producer=PRODUCER
    )
    return _event(
        RunState.ABORT,
        run_id,
        job_name=job_name,
        event_time=event_time,
        run_facets={"errorMessage": facet},
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
        eventTime=_utc(event_time).isoformat(),
        run=Run(runId=_run_id(run_id), facets=run_facets or {}),
        job=Job(namespace=JOB_NAMESPACE, name=_token(job_name, "job_name"), facets=job_facets),
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


# -- emitter -----------------------------------------------------------------------------


class LineageEmitter:
    """Sends RunEvents through an OpenLineageClient to a file or an HTTP server.

    Build one with `to_file` or `to_http`. A file transport appends one JSON event per
    line; its errors (a folder that cannot be written) raise, because the file is the
    local record. An HTTP transport is best effort: a server that is down, refuses or
    answers with an error is logged as a warning naming only the exception type (never
    the URL, which may carry credentials) and `emit` returns False.
    """

    def __init__(self, transport: Transport, *, best_effort: bool) -> None:
        """Wrap a transport; prefer `to_file` and `to_http`.

        Args:
            transport: the openlineage transport events are handed to.
            best_effort: log and swallow transport errors instead of raising them.
        """
        self._client = OpenLineageClient(
            transport=transport, config=copy.deepcopy(_PINNED_CLIENT_CONFIG)
        )
        self._best_effort = best_effort

    @classmethod
    def to_file(cls, path: Path) -> Self:
        """Append events to `path` as NDJSON (e.g. ``<state>/openlineage.ndjson``).

        Args:
            path: the file; its folder is created when missing. Both are for the owner
                only (0600, 0700): the events name schools, files and suppliers.
        """
        make_private_dir(path.parent)
        # A path that cannot be a file fails on the first emit, as any write error does.
        with contextlib.suppress(OSError):
            make_private_file(path)
        return cls(
            FileTransport(FileConfig(log_file_path=str(path), append=True)), best_effort=False
        )

    @classmethod
    def to_http(
        cls,
        url: str,
        api_key: str | None = None,
        *,
        endpoint: str = "api/v1/lineage",
        timeout: float = 5.0,
        retries: int = 2,
    ) -> Self:
        """Post events to an OpenLineage server such as Marquez.

        Args:
            url: the server's base URL, e.g. ``http://marquez:5000``.
            api_key: sent as a bearer token when given; the caller reads it from settings.
            endpoint: path of the lineage endpoint below `url`.
            timeout: seconds per request.
            retries: extra attempts on connection errors and 5xx answers.

        Raises:
            ValueError: `url` is not an http(s) URL with a host (the URL is not repeated).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the lineage URL must be an http(s) URL with a host")
        auth = ApiKeyTokenProvider({"api_key": api_key}) if api_key else TokenProvider({})
        retry = {
            "total": retries,
            "read": retries,
            "connect": retries,
            "backoff_factor": 0.3,
            "status_forcelist": [500, 502, 503, 504],
            "allowed_methods": ["HEAD", "POST"],
        }
        config = HttpConfig(url=url, endpoint=endpoint, timeout=timeout, auth=auth, retry=retry)
        try:
            transport = HttpTransport(config)
        except ValueError:
            raise ValueError("the lineage URL must be an http(s) URL with a host") from None
        return cls(transport, best_effort=True)

    def emit(self, event: RunEvent) -> bool:
        """Send one event; return False when a best-effort transport failed.

        The event is copied first: the client adds its `tags` run facet to what it sends,
        and the caller's event stays as built.
        """
        sent = copy.deepcopy(event)
        if not self._best_effort:
            self._client.emit(sent)
            return True
        try:
            self._client.emit(sent)
        except Exception as error:  # a lineage server must never stop a delivery
            _log.warning(
                _("OpenLineage: versturen van het %s-event mislukt (%s); de run gaat door"),
                _state_name(event),
                type(error).__name__,
            )
            return False
        return True

    def close(self) -> None:
        """Close the transport (an HTTP session); the emitter is not used afterwards."""
        self._client.close()


# -- guards ------------------------------------------------------------------------------


def _state_name(event: RunEvent) -> str:
    return event.eventType.value if event.eventType is not None else "run"


def _run_id(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("run_id must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("run_id must be a UUID string") from None


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError("event_time must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _count(value: object, name: str) -> int:
    # bool is an int subclass; True as a count is a bug, not a one.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int")
    return value


def _token(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) > _TOKEN_LENGTH or not _TOKEN.fullmatch(value):
        raise ValueError(
            f"{name} must be an id of at most {_TOKEN_LENGTH} letters, digits or ._:+- "
            "without spaces"
        )
    return value


def _dataset_part(value: object, name: str) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _DATASET_LENGTH
        or _CONTROL.search(value)
    ):
        raise ValueError(f"dataset {name} must be a non-empty single line")
    if "://" in value and urlsplit(value).password is not None:
        raise ValueError(f"dataset {name} must not hold a password")
    return value


def _dataset_ref(value: object, name: str) -> DatasetRef:
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValueError(f"{name} must be a (namespace, name) tuple")
    return (_dataset_part(value[0], f"{name} namespace"), _dataset_part(value[1], f"{name} name"))


def _unique(values: list[str], name: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat")
