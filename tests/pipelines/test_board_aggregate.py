"""The shipped bestuur agreement: the board gets counts per jaargroep, never a pupil."""

from __future__ import annotations

import json
from pathlib import Path

from test_delivery import Harness, school

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement


def test_the_board_delivery_holds_counts_and_no_key_name_or_pseudonym(tmp_path: Path) -> None:
    keys = [f"leerling{i:02d}" for i in range(12)]
    harness = Harness(tmp_path, load_agreement(BUNDLED_AGREEMENTS / "bestuur.yaml"))
    outcome = harness.run(school(keys))
    assert outcome.status == "delivered"
    files = harness.published(outcome)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "aggregaat"
    assert manifest["fields"] == ["brincode", "jaargroep", "geslacht"]
    [data] = [content for name, content in files.items() if name.endswith(".csv")]
    text = data.decode()
    assert text.splitlines()[0] == "brincode;jaargroep;geslacht;aantal"
    # Twelve boys in groep 3: one published cell; the rest of the grid is empty.
    assert ";3;1;12" in text
    everything = text + files["manifest.json"].decode()
    for key in keys:
        assert key not in everything
    assert "Kind" not in everything  # the builder's first names
    assert "ketenid" not in everything
