"""What a format can carry is declared once, in its FormatSpec, and read from there.

Issue 14 point 4: every format repeated the same six class-level capability declarations
and the same `render` signature. Now each fills in one FormatSpec, and the Format base
reads every capability, checks the options and holds the one `render` signature.
"""

from __future__ import annotations

import pandas as pd
import pytest

from connectors.errors import ConfigurationError
from connectors.formats.base import Format, FormatSpec
from connectors.formats.registry import FORMATS

CAPABILITIES = (
    "expresses_deletions",
    "profiles",
    "flat",
    "needs_a_pupil",
    "pupil_needs",
    "teacher_needs",
)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_fills_in_one_format_spec_under_its_registered_name(name: str) -> None:
    writer = FORMATS[name]()
    assert isinstance(writer, Format)
    assert isinstance(type(writer).spec, FormatSpec)
    assert writer.spec.name == name


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_format_class_declares_no_capability_and_no_render_of_its_own(name: str) -> None:
    declared = set(vars(FORMATS[name]))
    assert declared.isdisjoint({*CAPABILITIES, "render"})


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_capabilities_a_format_shows_are_those_of_its_spec(name: str) -> None:
    writer = FORMATS[name]()
    for capability in CAPABILITIES:
        assert getattr(writer, capability) == getattr(writer.spec, capability)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_render_refuses_an_option_the_spec_does_not_list_naming_the_ones_it_does(
    name: str,
) -> None:
    writer = FORMATS[name]()
    frame = pd.DataFrame({"leerlingkey": ["1"]})
    with pytest.raises(ConfigurationError) as refused:
        writer.render(frame, basename="x", options={"zzz-onbekend": "1"})
    message = str(refused.value)
    assert "'zzz-onbekend'" in message
    assert all(option in message for option in writer.spec.options)


def test_a_spec_is_frozen() -> None:
    spec = FORMATS["csv"]().spec
    with pytest.raises(AttributeError):
        spec.flat = False  # type: ignore[misc]
