"""YAML for configuration files (agreements, column maps): safe, plain data, parsed by libyaml.

PyYAML's pure-Python parser took longer to read the four shipped agreements than Sluis
takes to validate a school, and every run reads them twice (the CLI checks them before
Prefect starts). libyaml's CSafeLoader builds the same objects with the same safe
constructors; PyYAML wheels ship it, and the pure-Python loader stands in where it is not.

An agreement or a column map is plain data, so what YAML can do beyond that is refused,
each with its line: a duplicate key (YAML keeps the last one silently, so a second
``fields:`` would replace the first), an anchor, an alias or a merge key (they have no use
in these files, and an alias "bomb" builds a value that grows with every reference), and a
key that is not a plain value. Anchors and aliases are found in a scan of the parser's
events, before anything is built.
"""

from __future__ import annotations

from typing import Any, Protocol

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from connectors.i18n import _
from connectors.quoting import quote

__all__ = ["PlainDataError", "YAMLError", "safe_load"]

YAMLError = yaml.YAMLError

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Mark(Protocol):
    """Where in the text: PyYAML's Mark, from its Python or its C parser."""

    line: int


class PlainDataError(yaml.YAMLError):
    """Valid YAML that is not plain data: a duplicate key, an anchor, an alias or a merge.

    Attributes:
        problem: what is wrong and how to fix it, one line, values shortened.
        line: the 1-based line it is on.
        problem_mark: where, as PyYAML's own errors say it (0-based line).
    """

    def __init__(self, problem: str, mark: _Mark | None) -> None:
        self.problem = problem
        self.line = mark.line + 1 if mark is not None else 0
        self.problem_mark = mark
        super().__init__(_("regel {line}: {problem}").format(line=self.line, problem=problem))


class _PlainLoader(_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, refusing duplicate keys, merge keys and keys that are not values."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE_TAG:
                    raise PlainDataError(
                        _(
                            "een merge-sleutel (<<) is hier niet toegestaan: schrijf de "
                            "sleutels uit"
                        ),
                        key_node.start_mark,
                    )
                if not isinstance(key_node, ScalarNode):
                    raise PlainDataError(
                        _("een sleutel moet een gewone waarde zijn, geen lijst of mapping"),
                        key_node.start_mark,
                    )
                key = self.construct_object(key_node, deep=deep)
                try:
                    seen = first_line.get(key)
                except TypeError:  # pragma: no cover - a scalar key is always hashable
                    raise ConstructorError(
                        None,
                        None,
                        _("een sleutel moet een gewone waarde zijn, geen lijst of mapping"),
                        key_node.start_mark,
                    ) from None
                if seen is not None:
                    raise PlainDataError(
                        _("dubbele sleutel {key} (eerst op regel {seen}); houd er één van").format(
                            key=quote(key), seen=seen
                        ),
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _refuse_anchors_and_aliases(text: str) -> None:
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise PlainDataError(
                _("een alias (*naam) is hier niet toegestaan: schrijf de waarde uit"),
                event.start_mark,
            )
        if getattr(event, "anchor", None) is not None:
            raise PlainDataError(
                _(
                    "een anker (&naam) is hier niet toegestaan: haal het weg en schrijf elke "
                    "waarde uit"
                ),
                event.start_mark,
            )


def safe_load(text: str) -> Any:
    """Parse one YAML document of plain data with only safe tags.

    Raises:
        PlainDataError: a duplicate key, an anchor, an alias, a merge key or a key that is
            not a plain value; ``line`` says where.
        YAMLError: the text is not valid YAML; ``problem_mark`` says where, when known.
    """
    _refuse_anchors_and_aliases(text)
    return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a safe loader, C or Python
