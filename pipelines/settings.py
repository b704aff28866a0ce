"""Settings, read once at the top from SLUIS_* environment variables or a .env file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.pydantic_messages import error_message
from connectors.quoting import short
from contracts.agreements import BUNDLED_AGREEMENTS

__all__ = ["MEMBERSHIP_KEY_NAME", "Settings", "read_language"]

# File name (in <state_dir>/keys/) of the generated membership key.
MEMBERSHIP_KEY_NAME = "lineage-membership"


class Settings(BaseSettings):
    """Everything a run needs that is not in the command line.

    Secrets are SecretStr so they print as '**********' in any repr, log or traceback.
    """

    model_config = SettingsConfigDict(
        env_prefix="SLUIS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    def __init__(self, **values: Any) -> None:
        """Read the settings; a wrong one is a ConfigurationError in Dutch, without its value.

        Raises:
            ConfigurationError: names each wrong setting (SLUIS_...) and what it must be.
        """
        try:
            super().__init__(**values)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            raise ConfigurationError(
                "; ".join(
                    _("instelling {name}: {problem}").format(
                        name=_setting_name(err["loc"]), problem=error_message(err)
                    )
                    for err in errors
                )
            ) from None
        except SettingsError as exc:
            # Only a value that should be JSON (SLUIS_SECRETS, ...) and is not gets here;
            # pydantic-settings names the field in its English message, never the value.
            found = re.search(r'field "(\w+)"', str(exc))
            raise ConfigurationError(
                _("instelling {name}: is geen geldige JSON").format(
                    name=_setting_name([found.group(1)]) if found else "SLUIS_..."
                )
            ) from None

    lang: str = Field(
        "nl",
        description="Language of messages, help and reports (nl; another needs its catalogue "
        "in connectors/locale/)",
    )
    source: Path = Field(Path("data/samples"), description="Export file or folder of schools")
    drop_dir: Path = Field(Path("drop"), description="Folder drop root: DIR/<supplier>/")
    state_dir: Path = Field(
        Path("sluis-state"),
        description="Sluis' own files: quarantine reports, generated keys, SQLite lineage",
    )
    db_url: SecretStr | None = Field(
        None, description="Lineage database URL; default sqlite:///<state_dir>/lineage.db"
    )
    agreements_dir: Path = Field(BUNDLED_AGREEMENTS, description="Folder of agreement YAMLs")
    consents_filename: str = Field("toestemmingen.csv", description="Consent export per school")
    pseudonym_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Per-supplier HMAC keys (JSON object); missing ones are generated once "
        "into <state_dir>/keys/",
    )
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Named secrets (JSON object of name to value), e.g. the password or "
        "private key an agreement's SFTP drop names; else a Prefect Secret block is used",
    )
    membership_key: SecretStr | None = Field(
        None,
        description="HMAC key of the pupil hashes in lineage (who was in which delivery, "
        "erasures); generated once into <state_dir>/keys/ when unset",
    )
    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key of the audit log's chain, kept outside the database; "
        "generated once into <state_dir>/keys/ when unset",
    )
    report_retention_days: int = Field(
        30, ge=1, description="Days Sluis keeps its quarantine reports and run folders"
    )
    membership_retention_days: int = Field(
        730,
        ge=1,
        description="Days lineage keeps who was in a delivery (sector guidance: pupil data "
        "up to 2 years after leaving)",
    )
    batch_size: int = Field(25, ge=1, description="Schools per Prefect task")
    task_runner: Literal["threads", "dask"] = Field(
        "threads",
        description="Where tasks run: 2 threads in this process (default), or Dask "
        "(a local cluster of worker processes, or the cluster at SLUIS_DASK_ADDRESS)",
    )
    dask_address: str | None = Field(
        None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786); its workers "
        "must reach the state and drop folders through the same paths",
    )
    dask_workers: int = Field(
        2, ge=1, le=256, description="Worker processes of the local Dask cluster"
    )
    school_names: dict[str, str] = Field(
        default_factory=dict,
        description="School names by BRIN, for the pages for parents (an EDEXML export "
        'names none), as JSON: {"27ZX": "RKBS de Flint"}',
    )
    lock_wait_minutes: int = Field(
        120,
        ge=0,
        description="How long a run waits for another run of the same school to finish",
    )
    lock_stale_seconds: int = Field(
        60,
        ge=2,
        description="A run that has not shown a sign of life (heartbeat) for this many "
        "seconds is dead: its school locks are taken over and the run is marked aborted",
    )
    schedule_cron: str = Field(
        "0 2 * * *",
        description="When `sluis serve` runs each school (cron), unless an "
        "agreement names its own schedule",
    )
    schedule_timezone: str = Field("Europe/Amsterdam", description="Time zone of the schedules")
    approval_wait_minutes: int = Field(
        0,
        ge=0,
        le=1440,
        description="Scheduled and UI runs: minutes a run with a held delivery waits for "
        "approval in the Prefect UI before it ends (0: end at once; use sluis approve)",
    )
    openlineage_url: SecretStr | None = Field(
        None,
        description="OpenLineage server (e.g. Marquez) to post run events to; default: "
        "one JSON line per event in <state_dir>/openlineage.ndjson",
    )
    openlineage_api_key: SecretStr | None = Field(None, description="API key for that server")
    csv_column_map: Path | None = Field(
        None,
        description="Column map (YAML) of the school's CSV/XLSX overzicht export; default: "
        "the bundled ParnasSys-style map",
    )
    edexml_xsd: Path | None = Field(
        None,
        description="Folder with the official EDEXML 2.1 XSDs; when set, every EDEXML "
        "export is also validated against them (school-year list widened)",
    )

    @field_validator("openlineage_url")
    @classmethod
    def _an_http_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked with the other settings, so a run never starts (and a lineage run record
        # is never opened) with an address the emitter would refuse halfway; the address
        # may hold a token, so the message does not repeat it.
        if value is None:
            return None
        # Imported here: the OpenLineage client costs 0.4 s of start-up to every command,
        # and only a run with this setting posts to a server.
        from lineage.openlineage_transport import is_http_url

        if not is_http_url(value.get_secret_value()):
            raise ValueError(
                _(
                    "moet een http(s)-adres met een servernaam zijn, bijvoorbeeld "
                    "http://marquez:5000"
                )
            )
        return value

    def lineage_url(self) -> str:
        """The lineage database URL (a secret: never log it)."""
        if self.db_url is not None:
            return self.db_url.get_secret_value()
        return f"sqlite:///{(self.state_dir / 'lineage.db').resolve()}"


def _setting_name(loc: Sequence[int | str]) -> str:
    """'SLUIS_BATCH_SIZE' for a field, 'SLUIS_PSEUDONYM_KEYS.rekenapp' for a key inside one."""
    if not loc:
        return "SLUIS_..."
    first, *rest = loc
    name = "SLUIS_" + str(first).upper()
    return ".".join([name, *(short(part) for part in rest)])


class _LanguageOnly(BaseSettings):
    """Only SLUIS_LANG: read before the CLI builds its help, when other settings may be wrong."""

    model_config = SettingsConfigDict(
        env_prefix="SLUIS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    lang: str = "nl"


def read_language() -> str:
    """SLUIS_LANG (default nl), without reading or checking any other setting."""
    return _LanguageOnly().lang
