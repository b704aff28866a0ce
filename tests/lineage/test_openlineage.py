"""OpenLineage events: valid against the 2-0-2 spec, honest column lineage, never a value.

Every emitted event is read back from the NDJSON file and validated offline against the
OpenLineage JSON schemas in ../shared/reference/openlineage (core spec and one file per
facet), resolved through a `referencing` registry that never touches the network.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pandas as pd
import pytest
from builders import make_consents, make_export, pupil
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

from connectors.drops.folder import FolderDrop
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement
from contracts.catalog import field_catalog
from contracts.validation import ValidatedSchool, validate_school
from lineage import openlineage
from lineage.audit import AuditHead
from lineage.openlineage import (
    CONSENT_EXPORT_FIELDS,
    DEFAULT_JOB_NAME,
    JOB_NAMESPACE,
    PRODUCER,
    AssertionSpec,
    InputSpec,
    LineageEmitter,
    OutputSpec,
    complete_event,
    delivery_output,
    export_fields,
    fail_event,
    start_event,
)
from pipelines.delivery import DeliveryOutcome, DeliveryTargets, deliver_schools
from policy.pseudonymise import pseudonym

TODAY = date(2026, 11, 28)
STARTED = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=42)
RUN_OK = "0193a4f1-2c3d-7e4f-8a5b-6c7d8e9f0a1b"
RUN_FAILED = "0193a4f1-2c3d-7e4f-8a5b-6c7d8e9f0a2c"
SECRET = b"0123456789abcdef0123456789abcdef"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
# The client adds a `tags` run facet holding its own version; its schema (TagsRunFacet
# 1-0-0) is not in the reference snapshot, so it is checked only as a RunFacet.
CLIENT_FACETS = {("run", "tags")}

EXPORT = InputSpec("sluis://07XY", "/srv/sluis/exports/07XY/leerlingen.xml", export_fields())
CONSENTS = InputSpec(
    "sluis://07XY",
    "/srv/sluis/exports/07XY/toestemmingen.csv",
    [(name, "string") for name in CONSENT_EXPORT_FIELDS],
)
DIGEST_A = "a1" * 32
DIGEST_B = "b2" * 32
AUDIT_HEAD = AuditHead(seq=7, row_hash="c3" * 32)
# Sluis' own run facet (the audit log's head) ships its schema beside the code.
OWN_FACETS = Path(openlineage.__file__).resolve().parent / "openlineage_facets"


@pytest.fixture(autouse=True)
def _no_ambient_openlineage(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's OPENLINEAGE_* variables do not reach these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name, raising=False)


# -- schema validation -------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """The reference schemas, by $id, and a registry that resolves them offline."""

    registry: Registry[Any]
    schemas: dict[str, dict[str, Any]]

    def validate(self, instance: object, uri: str) -> None:
        validator = Draft202012Validator(
            {"$ref": uri},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        validator.validate(instance)


@pytest.fixture
def spec(openlineage_reference: Path) -> Spec:
    folder = openlineage_reference / "spec"
    paths = [folder / "OpenLineage.json", *sorted((folder / "facets").glob("*.json"))]
    paths += sorted(OWN_FACETS.glob("*.json"))
    schemas = {}
    for path in paths:
        contents = json.loads(path.read_text(encoding="utf-8"))
        schemas[contents["$id"]] = contents
    # No `retrieve`: a $ref outside the reference folder fails instead of going online.
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(contents)) for uri, contents in schemas.items()
    )
    assert CORE in schemas
    return Spec(registry, schemas)


def _facets(event: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, key, facet) for every facet of an event."""
    yield from (("run", k, v) for k, v in (event["run"].get("facets") or {}).items())
    yield from (("job", k, v) for k, v in (event["job"].get("facets") or {}).items())
    for dataset in event.get("inputs") or []:
        yield from (("input", k, v) for k, v in (dataset.get("facets") or {}).items())
        yield from (("input", k, v) for k, v in (dataset.get("inputFacets") or {}).items())
    for dataset in event.get("outputs") or []:
        yield from (("output", k, v) for k, v in (dataset.get("facets") or {}).items())
        yield from (("output", k, v) for k, v in (dataset.get("outputFacets") or {}).items())


def _is_uri(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc)


def _check_event(spec: Spec, event: dict[str, Any]) -> None:
    """The whole event against the core spec, each facet against its own facet file."""
    spec.validate(event, RUN_EVENT)
    spec.validate(event, CORE)  # the top-level oneOf: exactly a RunEvent
    # jsonschema checks `uri` only with an extra package: check the URIs here.
    datetime.fromisoformat(event["eventTime"])
    uuid.UUID(event["run"]["runId"])
    assert _is_uri(event["producer"]) and _is_uri(event["schemaURL"])
    for where, key, facet in _facets(event):
        assert _is_uri(facet["_producer"]) and _is_uri(facet["_schemaURL"])
        resource = facet["_schemaURL"].split("#")[0]
        if (where, key) in CLIENT_FACETS and resource not in spec.schemas:
            spec.validate(facet, f"{CORE}#/$defs/RunFacet")
            continue
        assert resource in spec.schemas, f"{where} facet {key}: no reference schema {resource}"
        # Against the definition the facet names, and under its key in the facet file.
        spec.validate(facet, facet["_schemaURL"])
        assert key in spec.schemas[resource]["properties"], f"{key} is not the spec's facet key"
        spec.validate({key: facet}, resource)


def _read(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# -- events built from specs -------------------------------------------------------------


def _outputs() -> list[OutputSpec]:
    research = OutputSpec(
        namespace="sluis-drop://onderzoek",
        name="/srv/drop/onderzoek/20261128t020000z-07xy-0193a4f1",
        fields=["pseudoniem", "geboortejaar", "geslacht", "jaargroep"],
        row_count=17,
        file_sha256s=[DIGEST_B],
        source_input=EXPORT.ref,
        size=2048,
    )
    website = OutputSpec(
        namespace="sluis-drop://schoolwebsite",
        name="/srv/drop/schoolwebsite/20261128t020000z-07xy-0193a4f1",
        fields=["roepnaam", "achternaam", "brincode", "schooljaar", "toestemming_foto_website"],
        row_count=12,
        file_sha256s=[DIGEST_B, DIGEST_A],
        source_input=EXPORT.ref,
        consent_input=CONSENTS.ref,
    )
    return [research, website]


ASSERTIONS = [
    AssertionSpec("leerlingkey_unique", True, "leerlingkey", "error", EXPORT.ref),
    AssertionSpec("geboortedatum_format", False, "geboortedatum", "error", EXPORT.ref),
    AssertionSpec("eckid_legacy", False, "eckid", "warn", EXPORT.ref),
    AssertionSpec("waarde_code", True, "waarde", "error", CONSENTS.ref),
]


def _emit_two_runs(path: Path) -> list[dict[str, Any]]:
    """Run A starts and completes, run B starts and fails; two emitters, one file."""
    first = LineageEmitter.to_file(path)
    first.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT, CONSENTS]))
    first.emit(start_event(RUN_FAILED, event_time=STARTED, inputs=[EXPORT]))
    first.close()
    second = LineageEmitter.to_file(path)  # append: what the first wrote stays
    second.emit(
        complete_event(
            RUN_OK,
            event_time=FINISHED,
            inputs=[EXPORT, CONSENTS],
            outputs=_outputs(),
            assertions=ASSERTIONS,
            audit_head=AUDIT_HEAD,
        )
    )
    second.emit(
        fail_event(
            RUN_FAILED,
            event_time=FINISHED,
            message="leerlingen.xml: EDEXML does not match the XSD (line 12, leerling/@key)",
        )
    )
    second.close()
    return _read(path)


def _output(event: dict[str, Any], namespace: str) -> dict[str, Any]:
    return next(o for o in event["outputs"] if o["namespace"] == namespace)


def _lineage(output: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return output["facets"]["columnLineage"]["fields"][field]["inputFields"]  # type: ignore[no-any-return]


def test_every_event_is_valid_openlineage_2_0_2(tmp_path: Path, spec: Spec) -> None:
    events = _emit_two_runs(tmp_path / "state" / "openlineage.ndjson")
    assert [(e["eventType"], e["run"]["runId"]) for e in events] == [
        ("START", RUN_OK),
        ("START", RUN_FAILED),
        ("COMPLETE", RUN_OK),
        ("FAIL", RUN_FAILED),
    ]
    for event in events:
        _check_event(spec, event)
        assert event["producer"] == PRODUCER
        assert event["job"] == {
            "namespace": JOB_NAMESPACE,
            "name": DEFAULT_JOB_NAME,
            "facets": event["job"]["facets"],
        }
        assert event["job"]["facets"]["jobType"]["processingType"] == "BATCH"
    # Every facet the builders made has its own reference schema; only the client's
    # version tag has none.
    keys = {(where, key) for event in events for where, key, _ in _facets(event)}
    assert keys == {
        ("run", "tags"),
        ("run", "errorMessage"),
        ("run", "sluisAudit"),
        ("job", "jobType"),
        ("input", "schema"),
        ("input", "dataQualityAssertions"),
        ("output", "schema"),
        ("output", "columnLineage"),
        ("output", "version"),
        ("output", "outputStatistics"),
    }


def test_the_complete_event_anchors_the_audit_logs_head(tmp_path: Path, spec: Spec) -> None:
    complete = _emit_two_runs(tmp_path / "state" / "openlineage.ndjson")[2]

    facet = complete["run"]["facets"]["sluisAudit"]
    assert (facet["seq"], facet["mac"]) == (7, "c3" * 32)
    assert facet["_producer"] == PRODUCER
    # Valid against its own schema (checked above for every facet) and still a RunFacet.
    spec.validate(facet, f"{CORE}#/$defs/RunFacet")
    with pytest.raises(ValidationError):
        spec.validate({**facet, "mac": "not hex"}, facet["_schemaURL"])


def test_a_facet_with_a_wrong_value_fails_validation(tmp_path: Path, spec: Spec) -> None:
    # The validation above can fail: a string rowCount breaks the facet schema.
    complete = _emit_two_runs(tmp_path / "openlineage.ndjson")[2]
    stats = complete["outputs"][0]["outputFacets"]["outputStatistics"]
    stats["rowCount"] = "17"
    with pytest.raises(Exception, match="is not of type 'integer'"):
        spec.validate(stats, stats["_schemaURL"])


def test_column_lineage_marks_masking_for_pseudonym_and_birth_year(tmp_path: Path) -> None:
    complete = _emit_two_runs(tmp_path / "openlineage.ndjson")[2]
    research = _output(complete, "sluis-drop://onderzoek")
    assert _lineage(research, "pseudoniem") == [
        {
            "namespace": EXPORT.namespace,
            "name": EXPORT.name,
            "field": "leerlingkey",
            "transformations": [
                {
                    "type": "DIRECT",
                    "subtype": "TRANSFORMATION",
                    "masking": True,
                    "description": field_catalog()["pseudoniem"].description,
                }
            ],
        }
    ]
    [birth] = _lineage(research, "geboortejaar")
    assert birth["field"] == "geboortedatum"
    assert birth["transformations"][0]["masking"] is True
    assert (birth["transformations"][0]["type"], birth["transformations"][0]["subtype"]) == (
        "DIRECT",
        "TRANSFORMATION",
    )
    website = _output(complete, "sluis-drop://schoolwebsite")
    for plain in ("roepnaam", "achternaam", "brincode", "schooljaar", "geslacht"):
        output = research if plain == "geslacht" else website
        [source] = _lineage(output, plain)
        assert source["field"] == plain
        assert (source["namespace"], source["name"]) == EXPORT.ref
        assert source["transformations"] == [
            {"type": "DIRECT", "subtype": "IDENTITY", "masking": False}
        ]


def test_consent_flags_come_from_the_consent_export(tmp_path: Path) -> None:
    complete = _emit_two_runs(tmp_path / "openlineage.ndjson")[2]
    flag = _lineage(_output(complete, "sluis-drop://schoolwebsite"), "toestemming_foto_website")
    assert {(f["namespace"], f["name"]) for f in flag} == {CONSENTS.ref}
    assert {f["field"]: f["transformations"] for f in flag} == {
        "waarde": [{"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": False}],
        "categorie": [{"type": "INDIRECT", "subtype": "FILTER", "masking": False}],
    }


def test_a_consent_flag_without_a_consent_export_has_no_source_field() -> None:
    # No consent export: nobody consented, and the flag is "nee" from no field at all.
    output = OutputSpec(
        "sluis-drop://x", "d1", ["toestemming_foto_website"], 3, [DIGEST_A], EXPORT.ref
    )
    event = complete_event(
        RUN_OK, event_time=FINISHED, inputs=[EXPORT], outputs=[output], assertions=[]
    )
    [dataset] = event.outputs or []
    lineage = dataset.facets["columnLineage"]  # type: ignore[index]
    assert lineage.fields["toestemming_foto_website"].inputFields == []  # type: ignore[attr-defined]


def test_output_statistics_schema_and_version(tmp_path: Path) -> None:
    complete = _emit_two_runs(tmp_path / "openlineage.ndjson")[2]
    research = _output(complete, "sluis-drop://onderzoek")
    stats = research["outputFacets"]["outputStatistics"]
    assert (stats["rowCount"], stats["fileCount"], stats["size"]) == (17, 1, 2048)
    assert [f["name"] for f in research["facets"]["schema"]["fields"]] == [
        "pseudoniem",
        "geboortejaar",
        "geslacht",
        "jaargroep",
    ]
    assert {f["type"] for f in research["facets"]["schema"]["fields"]} == {"string"}
    website = _output(complete, "sluis-drop://schoolwebsite")
    assert website["outputFacets"]["outputStatistics"]["rowCount"] == 12
    assert "size" not in website["outputFacets"]["outputStatistics"]
    # The files' digests, sorted, as they are: each can be checked with sha256sum.
    assert website["facets"]["version"]["datasetVersion"] == f"{DIGEST_A},{DIGEST_B}"


def test_data_quality_assertions_sit_on_the_input_they_ran_on(tmp_path: Path) -> None:
    events = _emit_two_runs(tmp_path / "openlineage.ndjson")
    start, complete = events[0], events[2]
    assert all("inputFacets" not in d or not d["inputFacets"] for d in start["inputs"])
    by_name = {d["name"]: d["inputFacets"]["dataQualityAssertions"] for d in complete["inputs"]}
    assert [tuple(a.values()) for a in by_name[EXPORT.name]["assertions"]] == [
        ("leerlingkey_unique", "leerlingkey", "error", True),
        ("geboortedatum_format", "geboortedatum", "error", False),
        ("eckid_legacy", "eckid", "warn", False),
    ]  # serialised with sorted keys: assertion, column, severity, success
    assert [a["assertion"] for a in by_name[CONSENTS.name]["assertions"]] == ["waarde_code"]
    # Without a dataset, an assertion is about every input of the run.
    event = complete_event(
        RUN_OK,
        event_time=FINISHED,
        inputs=[EXPORT],
        outputs=[],
        assertions=[AssertionSpec("composite_group_reference", True)],
    )
    [dataset] = event.inputs or []
    facet = (dataset.inputFacets or {})["dataQualityAssertions"]
    assert [a.assertion for a in facet.assertions] == ["composite_group_reference"]  # type: ignore[attr-defined]


def test_fail_event_holds_a_one_line_message_and_no_stack_trace(tmp_path: Path) -> None:
    failed = _emit_two_runs(tmp_path / "openlineage.ndjson")[3]
    error = failed["run"]["facets"]["errorMessage"]
    assert error["message"].startswith("leerlingen.xml: EDEXML does not match the XSD")
    assert error["programmingLanguage"] == "python"
    assert "stackTrace" not in error
    assert "inputs" not in failed or failed["inputs"] == []
    long = fail_event(RUN_FAILED, event_time=FINISHED, message="first\nsecond\r\n\tthird " * 100)
    facet = (long.run.facets or {})["errorMessage"]
    assert facet.message.startswith("first second third first")  # type: ignore[attr-defined]
    assert len(facet.message) == 500  # type: ignore[attr-defined]


def test_emit_leaves_the_callers_event_as_built(tmp_path: Path) -> None:
    event = start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT])
    LineageEmitter.to_file(tmp_path / "openlineage.ndjson").emit(event)
    assert set((event.run.facets or {}).keys()) == set()
    [written] = _read(tmp_path / "openlineage.ndjson")
    assert set(written["run"]["facets"]) == {"tags"}


# -- guards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OutputSpec("ns", "n", ["huisnummer"], 1, [], EXPORT.ref), "not in the field"),
        (lambda: OutputSpec("ns", "n", ["roepnaam"], 1, ["Vermeulen"], EXPORT.ref), "SHA-256"),
        (lambda: OutputSpec("ns", "n", ["roepnaam"], -1, [], EXPORT.ref), "non-negative"),
        (lambda: OutputSpec("ns", "n", ["roepnaam"], True, [], EXPORT.ref), "non-negative"),
        (lambda: OutputSpec("ns", "n", ["roepnaam", "roepnaam"], 1, [], EXPORT.ref), "repeat"),
        (lambda: AssertionSpec("achternaam is Vermeulen", False), "id of at most"),
        (lambda: AssertionSpec("rule", False, "Vermeulen"), "snake_case"),
        (lambda: InputSpec("ns", "a\nb", []), "single line"),
        (lambda: InputSpec("sftp://u:pw@host", "x", []), "password"),
        (lambda: InputSpec("ns", "x", [("roepnaam", "Vermeulen Fenna")]), "id of at most"),
        (lambda: start_event("not-a-uuid", event_time=STARTED, inputs=[]), "UUID"),
        (
            lambda: start_event(RUN_OK, event_time=datetime(2026, 11, 28, 2), inputs=[]),
            "timezone-aware",
        ),
        (lambda: start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT, EXPORT]), "repeat"),
    ],
)
def test_specs_refuse_what_is_not_a_name_count_hash_or_id(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_complete_event_refuses_lineage_to_an_input_the_run_did_not_read() -> None:
    stranger = OutputSpec("ns", "n", ["roepnaam"], 1, [], ("sluis://99AA", "/other.xml"))
    with pytest.raises(ValueError, match="source_input is not an input"):
        complete_event(
            RUN_OK, event_time=FINISHED, inputs=[EXPORT], outputs=[stranger], assertions=[]
        )
    no_consent = OutputSpec("ns", "n", ["toestemming_x"], 1, [], EXPORT.ref, CONSENTS.ref)
    with pytest.raises(ValueError, match="consent_input is not an input"):
        complete_event(
            RUN_OK, event_time=FINISHED, inputs=[EXPORT], outputs=[no_consent], assertions=[]
        )
    lost = AssertionSpec("waarde_code", True, "waarde", dataset=CONSENTS.ref)
    with pytest.raises(ValueError, match="its dataset is not an input"):
        complete_event(RUN_OK, event_time=FINISHED, inputs=[EXPORT], outputs=[], assertions=[lost])
    # Column lineage never points at a field the input does not have.
    narrow = InputSpec(EXPORT.namespace, EXPORT.name, [("leerlingkey", "string")])
    year = OutputSpec("ns", "n", ["geboortejaar"], 1, [], narrow.ref)
    with pytest.raises(ValueError, match="has no field geboortedatum"):
        complete_event(RUN_OK, event_time=FINISHED, inputs=[narrow], outputs=[year], assertions=[])


# -- a real delivery, and a search for its values --------------------------------------


@dataclass(frozen=True)
class Delivered:
    school: ValidatedSchool
    outcomes: list[DeliveryOutcome]
    values: set[str]  # every value of the school's pupils and of the delivered files


PLANTED = ("Vermeulen", "Fenna", "Fenna Maria", "2018-04-03", "fenna.vermeulen@example.nl")


@pytest.fixture
def delivered(tmp_path: Path) -> Delivered:
    pupils = [
        pupil(
            "48213",
            achternaam="Vermeulen",
            roepnaam="Fenna",
            voornamen="Fenna Maria",
            geboortedatum="2018-04-03",
            emailadres="fenna.vermeulen@example.nl",
            bsn="123456782",
        ),
        pupil("48214", achternaam="Bakker", roepnaam="Daan", geboortedatum="2019-02-11"),
        pupil("48215", achternaam="Yılmaz", roepnaam="Elif", geboortedatum="2019-07-30"),
    ]
    consents = [
        (key, "2026-2027", "deelname_onderzoek", "ja", "2026-09-01") for key in ("48213", "48215")
    ]
    school = validate_school(make_export(pupils), make_consents(consents), today=TODAY)
    assert len(school.pupils) == 3
    drop = FolderDrop(tmp_path / "drop", create_root=True)
    outcomes = []
    for supplier in ("basispoort", "onderzoek"):
        outcomes += deliver_schools(
            [school],
            load_agreement(BUNDLED_AGREEMENTS / f"{supplier}.yaml"),
            run_id=RUN_OK,
            created_at=STARTED,
            secret=SECRET,
            targets=DeliveryTargets(drop=drop),
        )
    assert [o.status for o in outcomes] == ["delivered", "delivered"]
    values = {
        str(v)
        for column in school.pupils.columns
        if column not in ("source_file", "source_line")
        for v in school.pupils[column].dropna()
    }
    for outcome in outcomes:
        for file in outcome.files:
            path = Path(str(outcome.location)) / str(file["name"])
            frame = (
                pd.read_parquet(path)
                if path.suffix == ".parquet"
                else pd.read_csv(path, sep=";", dtype=str)
            )
            values |= {str(v) for column in frame.columns for v in frame[column].dropna()}
    values |= set(pseudonym(school.pupils["leerlingkey"], SECRET))
    assert set(PLANTED) <= values and "2018" in values  # geboortejaar, as delivered
    return Delivered(school, outcomes, values)


def _strings(node: object) -> Iterator[tuple[bool, str]]:
    """Every string in a JSON document, as (is_key, string)."""
    if isinstance(node, str):
        yield False, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield True, key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _property_names(schema: object) -> Iterator[str]:
    """Every property name a schema declares, at any depth."""
    if isinstance(schema, dict):
        yield from schema.get("properties", {})
        for value in schema.values():
            yield from _property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _property_names(item)


def test_lineage_of_a_real_delivery_holds_no_pupil_value(
    tmp_path: Path, delivered: Delivered, spec: Spec
) -> None:
    outputs = [delivery_output(o, source_input=EXPORT.ref) for o in delivered.outcomes]
    assertions = [AssertionSpec("leerlingkey_unique", True, "leerlingkey", "error")]
    path = tmp_path / "state" / "openlineage.ndjson"
    emitter = LineageEmitter.to_file(path)
    emitter.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT]))
    emitter.emit(
        complete_event(
            RUN_OK, event_time=FINISHED, inputs=[EXPORT], outputs=outputs, assertions=assertions
        )
    )
    text = path.read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines()]
    for event in events:
        _check_event(spec, event)

    # No string in the file is a pupil value, and no distinctive value hides inside one.
    strings = [s for event in events for _, s in _strings(event)]
    assert not set(strings) & delivered.values
    for value in delivered.values:
        if len(value) >= 8 or value in PLANTED:
            assert value not in text, value

    # What is there: names, counts, hashes and ids, each of a known kind.
    complete = events[1]
    by_supplier = {o.supplier: o for o in delivered.outcomes}
    for output in complete["outputs"]:
        outcome = by_supplier[output["namespace"].removeprefix("sluis-drop://")]
        assert output["name"] == outcome.location
        stats = output["outputFacets"]["outputStatistics"]
        assert stats["rowCount"] == outcome.counts["delivered"]
        assert stats["fileCount"] == len(outcome.files)
        assert output["facets"]["version"]["datasetVersion"] == ",".join(
            sorted(str(f["sha256"]) for f in outcome.files)
        )
        assert [f["name"] for f in output["facets"]["schema"]["fields"]] == list(outcome.fields)
    assert by_supplier["onderzoek"].counts["delivered"] == 2  # consent from two of three

    catalog = field_catalog()
    # Keys: property names the reference schemas declare, field names, and the client's
    # tags facet (key, value, source), whose schema is not in the reference snapshot.
    keys = {name for schema in spec.schemas.values() for name in _property_names(schema)}
    keys |= set(catalog) | {"tags", "key", "value", "source"}
    values = (
        set(catalog)
        | {info.description for info in catalog.values()}
        | {EXPORT.namespace, EXPORT.name, PRODUCER, JOB_NAMESPACE, DEFAULT_JOB_NAME}
        | {str(o.location) for o in delivered.outcomes}
        | {f"sluis-drop://{o.supplier}" for o in delivered.outcomes}
        | {"leerlingkey_unique", "error", "string", "python", "BATCH", "SLUIS", "JOB"}
        | {"START", "COMPLETE", "DIRECT", "INDIRECT", "IDENTITY", "TRANSFORMATION", "FILTER"}
        | {"openlineage_client_version", "OPENLINEAGE_CLIENT"}
    )
    shaped = re.compile(
        r"[0-9a-f]{64}(,[0-9a-f]{64})*"  # file digests
        r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # run id
        r"|2026-11-28T02:00:(00|42)\+00:00"  # event times
        r"|https://openlineage\.io/spec/[\w/.-]+\.json#/\$defs/\w+"  # schema URLs
        r"|https://github\.com/OpenLineage/OpenLineage/tree/[\d.]+/client/python"  # tags
        r"|\d+\.\d+\.\d+"  # the client's version, in its tags facet
    )
    unknown = {
        s
        for event in events
        for is_key, s in _strings(event)
        if not (s in keys if is_key else s in values or shaped.fullmatch(s))
    }
    assert unknown == set()


def test_delivery_output_needs_a_delivery() -> None:
    expired = DeliveryOutcome(
        supplier="onderzoek",
        school="07XY",
        status="agreement_expired",
        delivery_id=None,
        mode="full",
        fields=("pseudoniem",),
        counts={},
    )
    with pytest.raises(ValueError, match="no delivery"):
        delivery_output(expired, source_input=EXPORT.ref)
    dry = DeliveryOutcome(
        supplier="onderzoek",
        school="07XY",
        status="dry_run",
        delivery_id="20261128t020000z-07xy-0193a4f1",
        mode="full",
        fields=("pseudoniem", "geboortejaar"),
        counts={"input": 3, "delivered": 2, "withheld": {"no_consent": 1}, "quarantined": 0},
        files=({"name": "onderzoek-07xy.parquet", "sha256": DIGEST_A, "rows": 2},),
    )
    output = delivery_output(dry, source_input=EXPORT.ref)
    assert (output.namespace, output.name, output.row_count) == (
        "sluis-drop://onderzoek",
        "20261128t020000z-07xy-0193a4f1",
        2,
    )
    assert output.file_sha256s == (DIGEST_A,)


# -- ambient configuration ---------------------------------------------------------------


def test_an_ambient_openlineage_config_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An openlineage.yml in the working folder and OPENLINEAGE__ variables could add an
    # environment-variable facet (with values), git facets, or filter the events out.
    (tmp_path / "openlineage.yml").write_text(
        "facets:\n"
        "  environment_variables: [PUPIL_SURNAME]\n"
        "  source_code_location:\n"
        "    disabled: false\n"
        "filters:\n"
        "  - type: exact\n"
        f"    match: {DEFAULT_JOB_NAME}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUPIL_SURNAME", "Vermeulen")
    monkeypatch.setenv("OPENLINEAGE__FACETS__ENVIRONMENT_VARIABLES", '["PUPIL_SURNAME"]')
    path = tmp_path / "openlineage.ndjson"
    LineageEmitter.to_file(path).emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT]))
    text = path.read_text(encoding="utf-8")
    [event] = [json.loads(line) for line in text.splitlines()]
    assert "Vermeulen" not in text
    assert set(event["run"]["facets"]) == {"tags"}
    assert set(event["job"]["facets"]) == {"jobType"}


# -- transports --------------------------------------------------------------------------


def test_a_file_that_cannot_be_written_raises(tmp_path: Path) -> None:
    emitter = LineageEmitter.to_file(tmp_path)  # a folder, not a file
    with pytest.raises(RuntimeError, match=r"not writeable|Failed to write"):
        emitter.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT]))


def test_http_to_a_closed_port_warns_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    emitter = LineageEmitter.to_http(
        "http://sluis:pw-in-url@127.0.0.1:1", api_key="api-key-secret", timeout=2
    )
    with caplog.at_level(logging.WARNING):
        assert emitter.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT])) is False
        assert emitter.emit(fail_event(RUN_OK, event_time=FINISHED, message="x")) is False
    emitter.close()
    ours = [r for r in caplog.records if r.name == "lineage.openlineage"]
    assert [r.getMessage() for r in ours] == [
        "OpenLineage: versturen van het START-event mislukt (ConnectionError); de run gaat door",
        "OpenLineage: versturen van het FAIL-event mislukt (ConnectionError); de run gaat door",
    ]
    for record in caplog.records:  # urllib3's retry warnings included
        assert "pw-in-url" not in record.getMessage()
        assert "api-key-secret" not in record.getMessage()


def test_http_refuses_a_url_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="must be an http") as caught:
        LineageEmitter.to_http("ftp://sluis:pw@lineage")
    assert "pw" not in str(caught.value)


class _Lineage(BaseHTTPRequestHandler):
    """A stand-in for Marquez: records what it is sent, answers with `status`."""

    status: ClassVar[int] = 201
    received: ClassVar[list[tuple[str, str | None, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, type[_Lineage]]]:
    handler = type("Handler", (_Lineage,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_posts_to_the_lineage_endpoint_with_the_api_key(
    lineage_server: tuple[str, type[_Lineage]], spec: Spec
) -> None:
    url, handler = lineage_server
    emitter = LineageEmitter.to_http(url, api_key="api-key-secret")
    assert emitter.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT])) is True
    emitter.close()
    [(path, authorization, event)] = handler.received
    assert path == "/api/v1/lineage"
    assert authorization == "Bearer api-key-secret"
    _check_event(spec, event)


def test_http_error_answers_are_swallowed_too(
    lineage_server: tuple[str, type[_Lineage]], caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = lineage_server
    handler.status = 400
    emitter = LineageEmitter.to_http(url)
    with caplog.at_level(logging.WARNING, logger="lineage.openlineage"):
        assert emitter.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT])) is False
    emitter.close()
    assert "(HTTPError)" in caplog.records[-1].getMessage()
    assert len(handler.received) == 1


def test_the_event_file_is_for_the_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        emitter = LineageEmitter.to_file(tmp_path / "state" / "openlineage.ndjson")
        emitter.emit(start_event(RUN_OK, event_time=STARTED, inputs=[EXPORT]))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "state" / "openlineage.ndjson").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


# -- a run of many schools, in parts ------------------------------------------------------


def _many_schools(tmp_path: Path, count: int) -> tuple[list, list, list[DeliveryOutcome]]:
    """`count` schools with their inputs, each delivered to basispoort and onderzoek."""
    from builders import own_file

    from contracts.validation import validate_schools
    from pipelines.plan import SchoolInput

    brins = [f"{n % 100:02d}{chr(65 + n // 100 % 26)}B" for n in range(count)]
    exports = [
        own_file(make_export([pupil("1"), pupil("2")], school={"brincode": brin})) for brin in brins
    ]
    schools = validate_schools([(e, make_consents([])) for e in exports], today=TODAY)
    drop = FolderDrop(tmp_path / "drop", create_root=True)
    outcomes: list[DeliveryOutcome] = []
    for supplier in ("basispoort", "onderzoek"):
        outcomes += deliver_schools(
            schools,
            load_agreement(BUNDLED_AGREEMENTS / f"{supplier}.yaml"),
            run_id=RUN_OK,
            created_at=STARTED,
            secret=SECRET,
            targets=DeliveryTargets(drop=drop),
        )
    inputs = [SchoolInput(e.path, None) for e in exports]
    return inputs, schools, outcomes


@pytest.mark.parametrize("per_event", [2, 100])
def test_a_run_of_many_schools_reports_them_in_valid_parts(
    tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch, per_event: int
) -> None:
    from pipelines import openlineage_run
    from pipelines.settings import Settings

    monkeypatch.setattr(openlineage_run, "SCHOOLS_PER_EVENT", per_event)
    inputs, schools, outcomes = _many_schools(tmp_path, 5)
    delivered = {str(o.location) for o in outcomes if o.status == "delivered"}
    assert len(delivered) == 10
    state = tmp_path / "state"
    state.mkdir()
    lineage = openlineage_run.RunLineage(Settings(state_dir=state), RUN_OK)
    head = AuditHead(seq=7, row_hash="a" * 64)
    lineage.start(inputs, STARTED)
    lineage.complete(inputs, schools, outcomes, STARTED, head)
    lineage.close()
    events = _read(state / "openlineage.ndjson")
    parts = -(-len(schools) // per_event)
    assert [e["eventType"] for e in events] == (
        ["START"] + ["RUNNING"] * (2 * parts - 2) + ["COMPLETE"]
    )
    started, events = events[:parts], events[parts:]
    # START and its RUNNING parts name every export once, before anything is delivered.
    assert sorted(d["name"] for e in started for d in e["inputs"]) == sorted(
        str(s.export.resolve()) for s in inputs
    )
    assert not any(e["outputs"] for e in started)
    for event in started:
        _check_event(spec, event)
    for event in events:
        _check_event(spec, event)
        # Each part names the inputs its outputs and assertions come from.
        names = {d["name"] for d in event["inputs"]}
        for output in event["outputs"]:
            lineage_facet = output["facets"]["columnLineage"]["fields"]
            sources = {f["name"] for c in lineage_facet.values() for f in c["inputFields"]}
            assert sources <= names
        assert len(event["inputs"]) == min(per_event, len(schools)) or event is events[-1]
    # Every school and delivery once, the audit head once, in COMPLETE.
    outputs = [o["name"] for e in events for o in e["outputs"]]
    assert sorted(outputs) == sorted(delivered)
    read = [d["name"] for e in events for d in e["inputs"]]
    assert sorted(read) == sorted(str(s.export.resolve()) for s in inputs)
    assert [("sluisAudit" in e["run"]["facets"]) for e in events][-1]
    assert not any("sluisAudit" in e["run"]["facets"] for e in events[:-1])
