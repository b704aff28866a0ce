"""The Prefect UI speaks Dutch where Sluis writes it (issue 13 point 1).

The run form shows the parameter schema of the sync flow: each field's title and
description, and the model's description above them. The deployment list shows each
deployment's description, and `sluis serve` prints its plan. Each of these texts must come
from the gettext catalogue, so that it is Dutch now and translatable later. Prefect's own
words in its UI (buttons, its validation texts) are Prefect's and out of Sluis' reach.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from prefect.utilities.callables import parameter_schema

from pipelines.flows import SyncRequest, sync
from pipelines.serve import build_deployments, describe, plan_deployments
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]
POT = REPO / "connectors" / "locale" / "sluis.pot"


def _catalogue() -> list[re.Pattern[str]]:
    """Every message of the catalogue as a pattern; a {placeholder} matches any text.

    Messages that are only placeholders and punctuation ("{school}: {message}") would match
    any text, so they are left out: a text must share a word with its message.
    """
    with POT.open("rb") as handle:
        ids = [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id]
    ids = [i for i in ids if re.search(r"[^\W\d_]{3}", re.sub(r"\{[a-z_]*\}", "", i))]
    return [
        re.compile("".join(".+" if p.startswith("{") else re.escape(p) for p in _parts(i)))
        for i in ids
    ]


def _parts(message: str) -> list[str]:
    return [p for p in re.split(r"(\{[a-z_]*\})", message) if p]


def _untranslated(texts: list[str]) -> list[str]:
    patterns = _catalogue()
    return [t for t in texts if not any(p.fullmatch(t) for p in patterns)]


def _form(schema: dict[str, Any]) -> list[str]:
    model = schema["definitions"]["SyncRequest"]
    texts = [model["title"], model["description"]]
    for field in model["properties"].values():
        texts += [field["title"], field["description"]]
    return texts


def test_every_text_of_the_run_form_is_in_the_catalogue() -> None:
    schema = parameter_schema(sync.fn).model_dump()

    texts = _form(schema)

    assert len(texts) == 2 + 2 * len(SyncRequest.model_fields)
    assert not _untranslated(texts)
    # The model's description is the form's, not the docstring written for developers.
    assert schema["definitions"]["SyncRequest"]["description"] != SyncRequest.__doc__


def test_the_flow_and_its_deployments_are_described_in_dutch() -> None:
    settings = Settings(source=REPO / "data" / "samples")
    per_school = plan_deployments(settings, "school")
    per_board = plan_deployments(settings, "board")

    deployments = build_deployments(settings, per_school + per_board)
    texts = [sync.description or ""] + [d.description or "" for d in deployments]
    texts += describe(settings, per_school + per_board)

    assert len(deployments) == len(per_school) + len(per_board) >= 3
    assert not _untranslated(texts)
