"""YAML for configuration files (agreements, column maps): safe, and parsed by libyaml.

PyYAML's pure-Python parser took longer to read the four shipped agreements than Sluis
takes to validate a school, and every run reads them twice (the CLI checks them before
Prefect starts). libyaml's CSafeLoader builds the same objects with the same safe
constructors; PyYAML wheels ship it, and the pure-Python loader stands in where it is not.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YAMLError", "safe_load"]

YAMLError = yaml.YAMLError

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """Parse one YAML document with only safe tags, like `yaml.safe_load`.

    Raises:
        YAMLError: the text is not valid YAML; ``problem_mark`` says where, when known.
    """
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
