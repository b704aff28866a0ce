"""The audit log's chain: each row's MAC over its canonical JSON, and the walk that checks it.

Pure functions over rows already read (anything with the audit_log columns as
attributes); lineage.audit reads and writes them. The format of a row's MAC is described
there, so that anyone holding the key can recompute a chain without Sluis.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from connectors.i18n import _

__all__ = [
    "GENESIS_HASH",
    "AuditHead",
    "AuditVerification",
    "ChainWalk",
    "is_plain",
    "row_hash",
    "verify_chain",
]

GENESIS_HASH: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last row of a log: keep it outside the database to detect a cut-off end."""

    seq: int
    row_hash: str

    def __str__(self) -> str:
        """``SEQ:MAC``, as `sluis audit verify` prints it and ``--head`` takes it."""
        return f"{self.seq}:{self.row_hash}"

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        """Read a head written as ``SEQ:MAC`` (a printout of `sluis audit verify`).

        Raises:
            ValueError: it is not a positive number, a colon and 64 hex characters.
        """
        seq, _colon, mac = text.strip().partition(":")
        wrong = _(
            "een kop is SEQ:MAC, bijvoorbeeld 12:3f9a... (64 hexadecimale tekens); neem de kop "
            "over zoals sluis audit verify hem toonde"
        )
        if not seq.isdigit() or int(seq) < 1 or len(mac) != 64:
            raise ValueError(wrong)
        try:
            int(mac, 16)
        except ValueError:
            raise ValueError(wrong) from None
        return cls(seq=int(seq), row_hash=mac.lower())


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The outcome of walking the chain.

    Attributes:
        ok: every row is intact, in order, with none missing.
        checked: how many rows, from the first, were found intact.
        first_bad_seq: the first position where the log differs from what was written
            (an edited or moved row, or the number of a removed one); None when ok.
        problem: one line saying what is wrong; None when ok.
        head: the last row checked, to keep elsewhere; None for an empty log.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    head: AuditHead | None = None


def row_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    prev_hash: str,
    *,
    key: bytes | None = None,
) -> str:
    """The row's HMAC-SHA256 under `key`; without a key, the plain SHA-256 of legacy rows."""
    payload = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def is_plain(row: Any) -> bool:
    """Whether the row carries the plain SHA-256 of a legacy row."""
    plain = row_hash(
        row.seq, row.at, row.actor, row.action, row.subject, row.details, row.prev_hash
    )
    return hmac.compare_digest(plain, row.row_hash)


@dataclass(frozen=True, slots=True)
class ChainWalk:
    """A verification, with whether any row was keyed (for the missing-head check)."""

    outcome: AuditVerification
    keyed: bool

    @property
    def ok(self) -> bool:
        """Whether every row is intact and every anchor holds."""
        return self.outcome.ok

    @property
    def checked(self) -> int:
        """How many rows, from the first, were found intact."""
        return self.outcome.checked

    @property
    def head(self) -> AuditHead | None:
        """The last row checked; None for an empty log."""
        return self.outcome.head


def verify_chain(
    rows: Sequence[Any], key: bytes, anchors: Sequence[tuple[str, AuditHead]]
) -> ChainWalk:
    """Walk `rows` (in seq order) from the first and stop at the first that is wrong.

    Args:
        rows: every audit_log row, with its columns as attributes.
        key: the audit key the keyed rows were chained under.
        anchors: heads kept elsewhere, each with a few words saying where.

    Raises:
        ValueError: an anchor's seq is below 1.
    """
    for _name, anchor in anchors:
        if anchor.seq < 1:
            raise ValueError("a head's seq must be at least 1")
    # Where each stored hash sits, to tell a moved row from a removed one.
    position = {row.row_hash: row.seq for row in rows}
    expected_seq, prev_hash = 1, GENESIS_HASH
    keyed = False

    def broken(checked: int, bad_seq: int | None, problem: str) -> ChainWalk:
        head = None if checked == 0 else AuditHead(checked, rows[checked - 1].row_hash)
        return ChainWalk(AuditVerification(False, checked, bad_seq, problem, head), keyed)

    for row in rows:
        problem: str | None = None
        bad_seq = row.seq
        if row.seq > expected_seq:
            bad_seq = expected_seq
            problem = (
                _("regel {seq} ontbreekt: verwijderd uit het log").format(seq=expected_seq)
                if row.seq == expected_seq + 1
                else _("regels {first} tot en met {last} ontbreken: verwijderd uit het log").format(
                    first=expected_seq, last=row.seq - 1
                )
            )
        elif row.seq < expected_seq:
            problem = _("regel {seq} staat niet op volgorde: het nummer is gewijzigd").format(
                seq=row.seq
            )
        elif row.prev_hash != prev_hash:
            other = position.get(row.prev_hash)
            if other is not None:
                problem = _(
                    "regel {seq} is geketend aan regel {other} in plaats van regel {previous}: "
                    "er zijn regels verplaatst"
                ).format(seq=row.seq, other=other, previous=row.seq - 1)
            else:
                problem = _(
                    "regel {seq} is niet geketend aan regel {previous}: een regel ervoor is "
                    "gewijzigd, vervangen of verwijderd"
                ).format(seq=row.seq, previous=row.seq - 1)
        else:
            mac = row_hash(
                row.seq,
                row.at,
                row.actor,
                row.action,
                row.subject,
                row.details,
                row.prev_hash,
                key=key,
            )
            if hmac.compare_digest(mac, row.row_hash):
                keyed = True
            elif not is_plain(row):
                problem = _(
                    "regel {seq} is gewijzigd nadat ze geschreven is: de MAC klopt niet (of de "
                    "auditsleutel is niet die waarmee ze geschreven is)"
                ).format(seq=row.seq)
            elif keyed:
                problem = _(
                    "regel {seq} heeft een gewone hash na regels met sleutel: het log is vanaf "
                    "daar herschreven"
                ).format(seq=row.seq)
        if problem is not None:
            return broken(expected_seq - 1, bad_seq, problem)
        expected_seq, prev_hash = expected_seq + 1, row.row_hash
    checked = expected_seq - 1
    for label, anchor in sorted(anchors, key=lambda item: -item[1].seq):
        if checked < anchor.seq:
            return broken(
                checked,
                checked + 1,
                _(
                    "het log eindigt bij regel {checked}, maar {label} is regel {seq}: er zijn "
                    "regels van het einde verwijderd"
                ).format(checked=checked, label=label, seq=anchor.seq),
            )
        if not hmac.compare_digest(rows[anchor.seq - 1].row_hash, anchor.row_hash):
            return broken(
                checked,
                anchor.seq,
                _(
                    "regel {seq} is niet de regel die {label} noemt: het log is tot daar "
                    "herschreven"
                ).format(seq=anchor.seq, label=label),
            )
    head = AuditHead(checked, rows[-1].row_hash) if rows else None
    return ChainWalk(AuditVerification(True, checked, None, None, head), keyed)
