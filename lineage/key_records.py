"""Fingerprints of the keys lineage depends on, and what lineage holds that was made with one.

Lineage keeps keyed hashes (pupils in deliveries, erasures, the supplier state), rows
sealed under a key derived from the membership key, pseudonyms its deliveries carried,
and an audit chain under the audit key. None of those keys is in the database; losing or
replacing one silently would make erasures stop matching and deliveries look new. So the
database records a fingerprint of each key, and `pipelines.keys` checks every key
against it before a run touches anything.

A fingerprint is the hex HMAC-SHA256 of a fixed label under the key: it tells two keys
apart, and reveals nothing of the key.

The table lives on `lineage.tables.Base`: importing this module is what makes
`LineageStore.create_schema` create it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, Engine, String, cast, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from connectors.i18n import _
from lineage.audit import chain_is_keyed
from lineage.engine import transaction as _transaction
from lineage.rights import DeliveryMemberRecord, ErasureRecord
from lineage.state import PendingStateRecord, SupplierStateRecord
from lineage.tables import Base, DeliveryRecord, UtcDateTime
from lineage.values import UtcTime, boundary

__all__ = [
    "AUDIT_KEY",
    "MEMBERSHIP_KEY",
    "STATE_KEY",
    "KeyFingerprintRecord",
    "fingerprint",
    "made_with",
    "pseudonym_key",
    "record_fingerprint",
    "recorded_fingerprint",
]

# Names of the keys in the table; a supplier's pseudonym key is `pseudonym_key(supplier)`.
MEMBERSHIP_KEY: Final = "lineage-membership"
STATE_KEY: Final = "lineage-state"
AUDIT_KEY: Final = "lineage-audit"
_PSEUDONYM_PREFIX: Final = "pseudonym:"

_LABEL: Final = b"sluis key fingerprint v1"
_SENT: Final = ("delivered", "held")


class KeyFingerprintRecord(Base):
    """The fingerprint of one key lineage depends on, and when it was recorded."""

    __tablename__ = "key_fingerprints"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


def pseudonym_key(supplier: str) -> str:
    """The name a supplier's pseudonym key has in the table."""
    return f"{_PSEUDONYM_PREFIX}{supplier}"


def fingerprint(key: bytes) -> str:
    """The key's fingerprint: HMAC-SHA256 of a fixed label, which reveals nothing of it."""
    return hmac.new(key, _LABEL, hashlib.sha256).hexdigest()


def recorded_fingerprint(engine: Engine, name: str) -> str | None:
    """The fingerprint recorded for a key, or None.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    query = select(KeyFingerprintRecord.fingerprint).where(KeyFingerprintRecord.name == name)
    with _transaction(engine) as connection:
        return connection.execute(query).scalar_one_or_none()


@boundary
def record_fingerprint(
    engine: Engine, name: str, value: str, at: UtcTime, *, replacing: str | None
) -> str:
    """Record a key's fingerprint if the table still holds `replacing` for it.

    A compare-and-set, so two processes adopting or generating the same key at once
    agree: whichever writes first wins, and the other reads what it wrote.

    Args:
        engine: an engine on the lineage database.
        name: the key's name (`MEMBERSHIP_KEY`, `pseudonym_key(...)`, ...).
        value: the new fingerprint.
        at: when (timezone-aware).
        replacing: the fingerprint expected in the table now; None when none is.

    Returns:
        The fingerprint recorded afterwards: `value`, or what another process recorded.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    record = KeyFingerprintRecord
    current = select(record.fingerprint).where(record.name == name)
    try:
        with _transaction(engine) as connection:
            found = connection.execute(current).scalar_one_or_none()
            if found != replacing:
                return str(found)
            if replacing is None:
                connection.execute(
                    insert(record).values(name=name, fingerprint=value, recorded_at=at)
                )
            else:
                connection.execute(
                    update(record)
                    .where(record.name == name, record.fingerprint == replacing)
                    .values(fingerprint=value, recorded_at=at)
                )
    except IntegrityError:
        # Another process inserted it first: what it recorded stands.
        return str(recorded_fingerprint(engine, name))
    return value


def made_with(engine: Engine, name: str) -> list[str]:
    """What lineage holds that was made with the key `name`; empty when nothing.

    - membership key: pupil hashes of deliveries, supplier state, held deliveries and
      erasures, and any delivery sent or held (its members may have been purged since);
    - state-sealing key: sealed identifiers in the supplier state;
    - audit key: audit rows chained under it;
    - a supplier's pseudonym key: deliveries sent or held that carried ``pseudoniem``.

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    checks: list[tuple[str, ColumnElement[bool]]]
    if name == MEMBERSHIP_KEY:
        checks = [
            (_("vergeet-opdrachten"), exists().where(ErasureRecord.pupil_hash.is_not(None))),
            (
                _("leerlinghashes van leveringen"),
                exists().where(DeliveryMemberRecord.pupil_hash.is_not(None)),
            ),
            (_("leveranciersstatus"), exists().where(SupplierStateRecord.pupil_hash.is_not(None))),
            (
                _("tegengehouden leveringen"),
                exists().where(PendingStateRecord.pupil_hash.is_not(None)),
            ),
            (_("leveringen"), exists().where(DeliveryRecord.status.in_(_SENT))),
        ]
    elif name == STATE_KEY:
        checks = [
            (
                _("verzegelde identificaties in de leveranciersstatus"),
                exists().where(SupplierStateRecord.ref.is_not(None)),
            ),
            (
                _("verzegelde identificaties van tegengehouden leveringen"),
                exists().where(PendingStateRecord.ref.is_not(None)),
            ),
        ]
    elif name == AUDIT_KEY:
        return [_("regels van het auditlog")] if chain_is_keyed(engine) else []
    elif name.startswith(_PSEUDONYM_PREFIX):
        supplier = name.removeprefix(_PSEUDONYM_PREFIX)
        checks = [
            (
                _("leveringen aan {supplier} met pseudoniemen").format(supplier=supplier),
                exists().where(
                    DeliveryRecord.supplier == supplier,
                    DeliveryRecord.status.in_(_SENT),
                    cast(DeliveryRecord.fields, String).like('%"pseudoniem"%'),
                ),
            )
        ]
    else:
        raise ValueError(f"unknown key name {name!r}")
    with _transaction(engine) as connection:
        return [what for what, test in checks if connection.execute(select(test)).scalar()]
