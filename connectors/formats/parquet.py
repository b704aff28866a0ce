"""Parquet output: one zstd-compressed file per frame, byte-identical for the same frame."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.errors import InputError
from connectors.formats.base import DataFile, Format, FormatSpec, RenderRequest, check_frame
from connectors.i18n import _

__all__ = ["ParquetFormat"]

# Fixed rather than left to pyarrow's default so that an upgrade cannot change the bytes
# of a delivery that is compared against a snapshot.
_COMPRESSION = "zstd"
_COMPRESSION_LEVEL = 3
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


class ParquetFormat(Format):
    """Renders a frame as one `<basename>.parquet` file; it takes no options.

    Column types come from the frame (pandas metadata is kept, so pandas reads the file
    back with the same dtypes); the index is not written.
    """

    # A delta carries a `change` column (added, changed, removed) beside the fields; a
    # missing value is an empty cell, so nothing has to be made up (no needs).
    spec = FormatSpec(name="parquet", flat=True, expresses_deletions=True)

    def write(self, frame: pd.DataFrame, request: RenderRequest) -> list[DataFile]:
        """Render `frame` as Parquet.

        Args:
            frame: the delivered frame; it is not mutated.
            request: the basename (file name without extension); Parquet has no options
                yet, and a flat file has no header, groups or teachers (no context).

        Returns:
            One data file, `<basename>.parquet`, with one row per frame row.

        Raises:
            ConfigurationError: an option was given, a bad basename, or a frame without
                usable column names.
            InputError: a column mixes value types that Parquet cannot store together.
        """
        basename = request.basename
        check_frame(frame, format_name="parquet")
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except _ARROW_ERRORS:
            # from None: pyarrow's message quotes the value it could not convert.
            raise InputError(
                _(
                    "parquet {basename}: kolom {frame} bevat waarden van gemengde "
                    "soorten en kan niet geschreven worden; er is niets geleverd"
                ).format(
                    basename=repr(basename),
                    frame=repr(_failing_column(frame)),
                )
            ) from None
        sink = pa.BufferOutputStream()
        pq.write_table(
            table,
            sink,
            compression=_COMPRESSION,
            compression_level=_COMPRESSION_LEVEL,
        )
        content: bytes = sink.getvalue().to_pybytes()
        return [DataFile(name=f"{basename}.parquet", content=content, rows=len(frame))]


def _failing_column(frame: pd.DataFrame) -> str:
    """Name the first column pyarrow cannot convert (only called on the error path)."""
    for name in frame.columns:
        try:
            pa.Array.from_pandas(frame[name])
        except _ARROW_ERRORS:
            return str(name)
    return "?"
