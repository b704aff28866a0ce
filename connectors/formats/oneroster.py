"""Placeholder: being written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pandas as pd

from connectors.errors import ConfigurationError
from connectors.formats.base import DataFile, RenderContext


class OneRosterFormat:
    expresses_deletions: ClassVar[bool] = True
    profiles: ClassVar[tuple[str, ...]] = ()

    def render(
        self,
        frame: pd.DataFrame,
        *,
        basename: str,
        options: Mapping[str, str],
        context: RenderContext | None = None,
    ) -> list[DataFile]:
        raise ConfigurationError("oneroster output is not available yet")

    def agreement_problems(
        self,
        fields: tuple[str, ...],
        *,
        teacher_fields: tuple[str, ...],
        identifier: str,
        mode: str,
        profile: str | None,
    ) -> list[str]:
        return []
