"""Optional check of an EDEXML file against the official XSD, with the school-year list widened.

The official EDEXML 2.1 schema enumerates school years up to 2024-2025 only, so every
current export would fail it. The schema files are read from where the operator keeps them
(setting SLUIS_EDEXML_XSD), patched in memory to accept any "YYYY-YYYY", and never copied.
Toevoegingen blocks are removed before validating: they may use a supplier's private
xsi:type the schema cannot know, and they are free text Sluis never forwards anyway.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from connectors.errors import ConfigurationError, SourceFormatError
from connectors.i18n import _

__all__ = ["validate_with_xsd"]

_XS = "http://www.w3.org/2001/XMLSchema"
_ROOT_SCHEMA = "EDEXML.structuur.xsd"
_SCHOOLYEAR_TYPE = "EDEXSchooljaarType"


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class _PatchedResolver(etree.Resolver):
    """Serves the schema's include files from memory, with the school-year type widened."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()
        self._documents = documents

    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        """Serve a schema file from memory (lxml passes a context its stubs omit)."""
        name = Path(system_url).name
        if name in self._documents:
            return self.resolve_string(self._documents[name], context)  # type: ignore[call-arg]
        return None


def _widen_schoolyear(document: bytes) -> bytes:
    tree = etree.fromstring(document, _safe_parser())
    for simple in tree.iter(f"{{{_XS}}}simpleType"):
        if simple.get("name") != _SCHOOLYEAR_TYPE:
            continue
        restriction = simple.find(f"{{{_XS}}}restriction")
        if restriction is None:
            continue
        for child in list(restriction):
            restriction.remove(child)
        pattern = etree.SubElement(restriction, f"{{{_XS}}}pattern")
        pattern.set("value", r"\d{4}-\d{4}")
    result: bytes = etree.tostring(tree)
    return result


@cache
def _schema(folder: Path) -> etree.XMLSchema:
    root = folder / _ROOT_SCHEMA
    if not root.is_file():
        raise ConfigurationError(
            _(
                "SLUIS_EDEXML_XSD: {folder} bevat geen {root_schema}; wijs naar de "
                "map met de vier schemabestanden van EDEXML 2.1"
            ).format(
                folder=folder,
                root_schema=_ROOT_SCHEMA,
            )
        )
    documents = {
        path.name: _widen_schoolyear(path.read_bytes()) for path in sorted(folder.glob("*.xsd"))
    }
    parser = _safe_parser()
    parser.resolvers.add(_PatchedResolver(documents))
    try:
        document = etree.fromstring(documents[_ROOT_SCHEMA], parser, base_url=str(root))
        return etree.XMLSchema(document)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise ConfigurationError(
            _("SLUIS_EDEXML_XSD: het schema in {folder} kan niet geladen worden: {exc}").format(
                folder=folder,
                exc=exc,
            )
        ) from None


def validate_with_xsd(path: Path, xsd_folder: Path) -> None:
    """Validate one EDEXML file against the (widened) official schema.

    Raises:
        SourceFormatError: naming the file, the first line that breaks the schema and the
            schema's complaint (element and rule; schema messages name elements and types,
            and the value is cut out when they quote it).
    """
    schema = _schema(xsd_folder.resolve())
    try:
        tree = etree.parse(str(path), _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SourceFormatError(
            _("{path}: geen goedgevormde XML op regel {lineno}").format(
                path=path,
                lineno=exc.lineno,
            )
        ) from None
    for blocks in tree.getroot().iter("toevoegingen"):
        parent = blocks.getparent()
        if parent is not None:
            parent.remove(blocks)
    if schema.validate(tree):
        return
    error = schema.error_log.filter_from_errors()[0]  # type: ignore[attr-defined]
    raise SourceFormatError(
        _(
            "{path}: regel {line}: klopt niet met het EDEXML 2.1-schema: "
            "{message}; verbeter de export in de administratie"
        ).format(
            path=path,
            line=error.line,
            message=_without_value(error.message),
        )
    )


def _without_value(message: str) -> str:
    """Drop the quoted value libxml2 puts in some messages ("The value 'x' is not ...")."""
    if "The value '" in message:
        head, _, rest = message.partition("The value '")
        _, _, tail = rest.partition("'")
        return (head + "The value" + tail).strip()
    return message.strip()
