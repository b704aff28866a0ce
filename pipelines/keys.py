"""The keys lineage depends on: read from settings or the state folder, checked against lineage.

Membership key (pupil hashes, erasures, and the derived key sealing the supplier state),
audit key (the audit log's MAC chain) and one pseudonym key per pseudonymising supplier.
Each comes from its setting, else from a file in ``<state>/keys/`` (0600). Before a run or
a command touches anything, `check_run_keys` (or `checked_key`) compares each key with the
fingerprint lineage recorded:

- the same key: go on;
- no fingerprint yet (a database from before fingerprints): the key is adopted;
- another key, or none where lineage holds something made with it: stop, with one line
  naming the key, where it was expected and how to restore it;
- none, and lineage holds nothing made with it: a new one is generated and recorded.

`sluis keys rotate` (`rotate_key`) is the only way to change a key on purpose.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine

from connectors.errors import ConfigurationError
from connectors.i18n import _, ngettext
from connectors.private_files import make_private_dir
from lineage.audit import AuditLog, chain_is_keyed, default_actor
from lineage.key_records import (
    AUDIT_KEY,
    MEMBERSHIP_KEY,
    STATE_KEY,
    fingerprint,
    made_with,
    pseudonym_key,
    record_fingerprint,
    recorded_fingerprint,
)
from lineage.rights import erased_hashes
from lineage.state import state_key
from pipelines.settings import Settings

__all__ = [
    "KeySource",
    "RunKeys",
    "audit_log",
    "audit_source",
    "check_run_keys",
    "checked_key",
    "membership_secret",
    "membership_source",
    "pseudonym_source",
    "read_key",
    "rotate_key",
]

_MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class KeySource:
    """Where one key comes from: its setting, else a generated file in the state folder.

    Attributes:
        name: the key's name in lineage (`lineage.key_records`).
        label: how a message names it, e.g. "the membership key".
        setting: the setting that holds it when it is not generated.
        configured: the setting's value, if set.
        path: the file a generated key is kept in.
        rotate_as: the name `sluis keys rotate` takes for it.
    """

    name: str
    label: str
    setting: str
    configured: SecretStr | None
    path: Path
    rotate_as: str

    @property
    def where(self) -> str:
        """Where the key is read from now: the setting if set, else the file."""
        return (
            _("de instelling {setting}").format(setting=self.setting)
            if self.configured is not None
            else str(self.path)
        )


def _keys_folder(settings: Settings) -> Path:
    return settings.state_dir / "keys"


def _lineage_source(
    settings: Settings, name: str, label: str, setting: str, configured: SecretStr | None
) -> KeySource:
    # Lineage's own keys are filed and rotated under their name in lineage.
    return KeySource(
        name=name,
        label=label,
        setting=setting,
        configured=configured,
        path=_keys_folder(settings) / f"{name}.key",
        rotate_as=name,
    )


def membership_source(settings: Settings) -> KeySource:
    """The membership key: SLUIS_MEMBERSHIP_KEY, else <state>/keys/lineage-membership.key."""
    return _lineage_source(
        settings,
        MEMBERSHIP_KEY,
        _("de lidmaatschapssleutel"),
        "SLUIS_MEMBERSHIP_KEY",
        settings.membership_key,
    )


def audit_source(settings: Settings) -> KeySource:
    """The audit key: SLUIS_AUDIT_KEY, else <state>/keys/lineage-audit.key."""
    return _lineage_source(
        settings, AUDIT_KEY, _("de auditsleutel"), "SLUIS_AUDIT_KEY", settings.audit_key
    )


def pseudonym_source(settings: Settings, supplier: str) -> KeySource:
    """A supplier's pseudonym key: SLUIS_PSEUDONYM_KEYS, else <state>/keys/<supplier>.key."""
    return KeySource(
        name=pseudonym_key(supplier),
        label=_("de pseudoniemsleutel van {supplier}").format(supplier=supplier),
        setting=f"SLUIS_PSEUDONYM_KEYS[{supplier}]",
        configured=settings.pseudonym_keys.get(supplier),
        path=_keys_folder(settings) / f"{supplier}.key",
        rotate_as=supplier,
    )


def membership_secret(settings: Settings) -> bytes:
    """The key of lineage's pupil hashes as it is now (a secret: never log it).

    Never generates one, and does not check it against lineage: a command first calls
    `check_run_keys` or `checked_key`, which does both.

    Raises:
        ConfigurationError: the key is missing or cannot be read.
    """
    source = membership_source(settings)
    key = read_key(source)
    if key is None:
        raise ConfigurationError(
            _(
                "de lidmaatschapssleutel ontbreekt: die hoort in {path} (of in de "
                "instelling SLUIS_MEMBERSHIP_KEY); zet hem terug uit de back-up"
            ).format(path=source.path)
        )
    return key


def read_key(source: KeySource) -> bytes | None:
    """Return the key from its setting or its file; None when neither holds it.

    Raises:
        ConfigurationError: the setting is too short, or the file is readable by others
            or unreadable.
    """
    if source.configured is not None:
        value = source.configured.get_secret_value().encode("utf-8")
        if len(value) < _MIN_KEY_BYTES:
            raise ConfigurationError(
                _("{setting}: {label} is korter dan {n} tekens").format(
                    setting=source.setting, label=source.label, n=_MIN_KEY_BYTES
                )
            )
        return value
    path = source.path
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise ConfigurationError(
            _("{path}: {label} is leesbaar voor anderen; voer chmod 600 {path} uit").format(
                path=path, label=source.label
            )
        )
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError):
        raise ConfigurationError(
            _(
                "{path}: {label} is onleesbaar (verwacht één regel hex); zet het bestand "
                "terug uit de back-up"
            ).format(path=path, label=source.label)
        ) from None


def _write_new(path: Path, *, replace: bool) -> bytes:
    """Write a new random key into `path` (0600, folder 0700) and return it.

    Without `replace`, the file must not exist yet (O_EXCL): two processes starting at
    once must not each write a different key; the one that loses reads the winner's.
    """
    make_private_dir(path.parent)  # and the state folder above it, when new
    os.chmod(path.parent, 0o700)  # also a keys folder made before Sluis made it private
    key = secrets.token_bytes(32)
    target = path.with_suffix(".new") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    if replace:
        os.replace(target, path)
    return key


def _missing(source: KeySource, holds: list[str]) -> ConfigurationError:
    if holds:
        return ConfigurationError(
            _(
                "{label} ontbreekt: die hoort in {path} (of in de instelling {setting}), en "
                "de lineage bevat {holds} die ermee gemaakt zijn; zet de sleutel terug uit de "
                "back-up (er is niets gewijzigd), of begin, als hij voorgoed kwijt is, bewust "
                "een nieuwe met `sluis keys rotate {rotate}`"
            ).format(
                label=source.label,
                path=source.path,
                setting=source.setting,
                holds=", ".join(holds),
                rotate=source.rotate_as,
            )
        )
    return ConfigurationError(
        _(
            "{label} ontbreekt: die hoort in {path} (of in de instelling {setting}); zet de "
            "sleutel terug uit de back-up (er is niets gewijzigd)"
        ).format(label=source.label, path=source.path, setting=source.setting)
    )


def _different(source: KeySource) -> ConfigurationError:
    return ConfigurationError(
        _(
            "{label} in {where} is niet de sleutel die de lineage vastlegde (de vingerafdruk "
            "verschilt), dus wat de lineage bevat zou niet meer kloppen; zet de vastgelegde "
            "sleutel terug uit de back-up (er is niets gewijzigd), of voer voor een bedoelde "
            "wijziging `sluis keys rotate {rotate}` uit"
        ).format(label=source.label, where=source.where, rotate=source.rotate_as)
    )


def checked_key(engine: Engine, source: KeySource, *, may_generate: bool = True) -> bytes:
    """Return the key, checked against the fingerprint lineage recorded for it.

    Args:
        engine: an engine on the lineage database (its schema exists).
        source: where the key comes from.
        may_generate: whether a missing key may be generated (when lineage holds nothing
            made with it); False for commands that only act on what lineage holds.

    Raises:
        ConfigurationError: the key is missing, differs from the recorded one, or cannot
            be read; the message says which key, where it was expected and what to do.
    """
    key = read_key(source)
    recorded = recorded_fingerprint(engine, source.name)
    if key is None:
        holds = made_with(engine, source.name)
        if holds or not may_generate:
            raise _missing(source, holds)
        # Nothing lineage holds was made with the lost key: a new one replaces it.
        key = _write_new(source.path, replace=False)
    elif recorded not in (None, fingerprint(key)):
        raise _different(source)
    found = fingerprint(key)
    if recorded == found:
        return key
    # Adopted (a database from before fingerprints), or new; another process may have
    # recorded its own key in between, and then this one is not it.
    if record_fingerprint(engine, source.name, found, datetime.now(UTC), replacing=recorded) != (
        found
    ):
        raise _different(source)
    return key


@dataclass(frozen=True)
class RunKeys:
    """The checked keys of one run (secrets: never log them)."""

    membership: bytes
    audit: bytes
    pseudonyms: Mapping[str, bytes]


def _check_state_key(engine: Engine, membership: bytes) -> None:
    """The supplier state is sealed under a key derived from the membership key: check it."""
    found = fingerprint(state_key(membership))
    recorded = recorded_fingerprint(engine, STATE_KEY)
    if recorded == found:
        return
    if recorded is not None and made_with(engine, STATE_KEY):
        raise ConfigurationError(
            _(
                "de sleutel die de leveranciersstatus verzegelt (afgeleid van de "
                "lidmaatschapssleutel) is niet die van de lineage; deze Sluis leidt hem anders "
                "af dan de versie die de status verzegelde: gebruik de Sluis-versie die hem "
                "maakte"
            )
        )
    record_fingerprint(engine, STATE_KEY, found, datetime.now(UTC), replacing=recorded)


def check_run_keys(
    settings: Settings, engine: Engine, pseudonymising: Iterable[str], *, may_generate: bool = True
) -> RunKeys:
    """Check every key a run needs against lineage, before anything is delivered or held.

    Args:
        settings: where the keys come from.
        engine: an engine on the lineage database (its schema exists).
        pseudonymising: the suppliers of this run that receive a ``pseudoniem``.
        may_generate: whether missing keys may be generated (see `checked_key`).

    Raises:
        ConfigurationError: a key is missing or differs (the message names it).
    """
    audit = checked_key(engine, audit_source(settings), may_generate=may_generate)
    membership = checked_key(engine, membership_source(settings), may_generate=may_generate)
    _check_state_key(engine, membership)
    pseudonyms = {
        supplier: checked_key(
            engine, pseudonym_source(settings, supplier), may_generate=may_generate
        )
        for supplier in sorted(set(pseudonymising))
    }
    return RunKeys(membership=membership, audit=audit, pseudonyms=pseudonyms)


def audit_log(settings: Settings, engine: Engine) -> AuditLog:
    """The audit log with its checked key, for a command that appends or verifies."""
    return AuditLog(engine, checked_key(engine, audit_source(settings)))


def rotate_key(settings: Settings, engine: Engine, name: str, actor: str | None) -> str:
    """Replace a key on purpose: record its new fingerprint and a ``key_rotated`` entry.

    A generated key is replaced by a new random one (the old one is destroyed, not kept:
    keeping it would keep old pseudonyms linkable to new ones, which is what a rotation is
    meant to end); a key from a setting is changed in the setting first, and this records
    the new value. A lost key is replaced the same way.

    Refused for the membership key while erasures are active: they are keyed hashes of the
    pupils under that key and would silently stop matching, so the erased pupils would be
    delivered again (Sluis never keeps the pupils' keys, so it cannot re-hash them). Refused
    for the audit key once rows are chained under it: they could no longer be verified.

    Returns:
        The file or setting the new key is in.

    Raises:
        ConfigurationError: no such key, the rotation is refused, the setting was not
            changed, or another key (the audit key) is missing or differs.
    """
    if name == MEMBERSHIP_KEY:
        source = membership_source(settings)
    elif name == AUDIT_KEY:
        source = audit_source(settings)
    else:
        source = pseudonym_source(settings, name)
        if (
            source.configured is None
            and not source.path.exists()
            and recorded_fingerprint(engine, source.name) is None
        ):
            raise ConfigurationError(
                _(
                    "{path}: geen gegenereerde sleutel om te roteren; een sleutel uit de "
                    "instellingen roteer je door de instelling te wijzigen en dit opnieuw uit "
                    "te voeren"
                ).format(path=source.path)
            )
    if name == AUDIT_KEY:
        if chain_is_keyed(engine):
            raise ConfigurationError(
                _(
                    "de auditsleutel kan niet geroteerd worden: de regels van het auditlog zijn "
                    "eronder geketend en een nieuwe sleutel kan ze niet controleren; bewaar hem, "
                    "en zijn back-up, veilig"
                )
            )
    else:
        log = audit_log(settings, engine)
    if name == MEMBERSHIP_KEY:
        active = len(erased_hashes(engine))
        if active:
            raise ConfigurationError(
                ngettext(
                    "de lidmaatschapssleutel kan niet geroteerd worden zolang de lineage "
                    "{n} actieve vergeet-opdracht bevat: dat is een hash van een leerling "
                    "onder deze sleutel die stil zou ophouden te kloppen, zodat die "
                    "leerling weer geleverd zou worden",
                    "de lidmaatschapssleutel kan niet geroteerd worden zolang de lineage "
                    "{n} actieve vergeet-opdrachten bevat: dat zijn hashes van de leerlingen "
                    "onder deze sleutel die stil zouden ophouden te kloppen, zodat die "
                    "leerlingen weer geleverd zouden worden",
                    active,
                ).format(n=active)
            )
    previous = recorded_fingerprint(engine, source.name)
    configured = read_key(source) if source.configured is not None else None
    if configured is not None:
        key = configured
        if fingerprint(key) == previous:
            raise ConfigurationError(
                _(
                    "{setting} bevat nog de sleutel die de lineage vastlegde: wijzig eerst de "
                    "instelling en voer dit dan opnieuw uit"
                ).format(setting=source.setting)
            )
    else:
        key = _write_new(source.path, replace=True)
    now = datetime.now(UTC)
    new = fingerprint(key)
    record_fingerprint(engine, source.name, new, now, replacing=previous)
    if name == MEMBERSHIP_KEY:
        derived = fingerprint(state_key(key))
        old = recorded_fingerprint(engine, STATE_KEY)
        record_fingerprint(engine, STATE_KEY, derived, now, replacing=old)
    if name == AUDIT_KEY:
        log = AuditLog(engine, key)
    details = {"fingerprint": new, "previous_fingerprint": previous}
    log.append(actor or default_actor(), "key_rotated", name, details, at=now)
    return source.where
