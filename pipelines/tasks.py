"""Thin Prefect tasks around pipelines.work: no caching, no persisted results of pupil data.

A user error (bad export, bad agreement) is returned as a Failed state with its one-line
message instead of raised, so Prefect does not log a traceback for something the IT
coordinator has to fix in the administration. Only transient delivery errors are raised,
because only those are worth a retry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.states import Failed

from connectors.errors import SluisError, TransientDeliveryError
from contracts.agreements import Agreement, LoadedAgreement
from contracts.staged import StagedSchool
from lineage.state import SupplierState
from pipelines.delivery import DeliveryOutcome, DeliveryTargets, deliver_schools
from pipelines.plan import SchoolInput
from pipelines.publishing import RunLedger
from pipelines.work import stage_schools
from policy.batch import SchoolBatch

__all__ = ["deliver_batch", "prepare_batch"]


@task(
    name="prepare",
    task_run_name="prepare-{label}",
    persist_result=False,
    cache_policy=NONE,
)
def prepare_batch(
    schools: list[SchoolInput],
    label: str,
    today: date,
    *,
    folder: Path,
    root: Path,
    agreements: list[Agreement],
    edexml_xsd: Path | None = None,
    csv_column_map: Path | None = None,
) -> list[StagedSchool] | State:
    """Extract and validate a batch of schools into staging; return references, not frames."""
    try:
        return stage_schools(
            schools,
            today=today,
            folder=folder,
            root=root,
            agreements=agreements,
            edexml_xsd=edexml_xsd,
            csv_column_map=csv_column_map,
        )
    except SluisError as exc:
        return Failed(message=str(exc))


# The flow submits every supplier's task for a batch in turn, so the tasks in flight share
# a batch or two: each process reads a batch from staging once, not once per supplier. The
# frames are shared read-only between suppliers, as they were when the flow held them.
_LOADED_BATCHES = 2
_loaded: OrderedDict[tuple[tuple[str, tuple[tuple[str, str], ...]], ...], SchoolBatch]
_loaded = OrderedDict()
_loaded_lock = threading.Lock()


def _batch(staged: list[StagedSchool]) -> SchoolBatch:
    """The batch's validated schools, read from staging unless this process just did.

    As a SchoolBatch, so what every supplier reads of it (the pupils in one frame, the
    standing consents, the membership ids) is built by the first supplier's task only.
    """
    key = tuple((str(s.folder), s.hashes) for s in staged)
    with _loaded_lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    schools = SchoolBatch([school.load() for school in staged])
    with _loaded_lock:
        _loaded[key] = schools
        while len(_loaded) > _LOADED_BATCHES:
            _loaded.popitem(last=False)
    return schools


def _transient(task: object, task_run: object, state: State) -> bool:
    """Retry only when the drop may work next time."""
    try:
        state.result()
    except TransientDeliveryError:
        return True
    except Exception:
        return False
    return False


@task(
    name="deliver",
    task_run_name="deliver-{supplier}-{label}",
    persist_result=False,
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=_transient,
)
def deliver_batch(
    staged: list[StagedSchool],
    loaded: LoadedAgreement,
    supplier: str,
    label: str,
    *,
    run_id: str,
    created_at: datetime,
    secret: bytes | None,
    targets: DeliveryTargets,
    erased: frozenset[str] = frozenset(),
    membership_secret: bytes | None = None,
    states: Mapping[str, SupplierState] | None = None,
) -> list[DeliveryOutcome] | State:
    """Read a batch of schools from staging, apply one agreement, publish, hold or skip each."""
    try:
        outcomes = deliver_schools(
            _batch(staged),
            loaded,
            run_id=run_id,
            created_at=created_at,
            secret=secret,
            targets=targets,
            erased=erased,
            membership_secret=membership_secret,
            states=states,
        )
    except TransientDeliveryError:
        raise
    except SluisError as exc:
        return Failed(message=str(exc))
    return _returned(outcomes, targets.ledger)


def _returned(outcomes: list[DeliveryOutcome], ledger: object) -> list[DeliveryOutcome]:
    """What the flow gets back: without the members lineage already has.

    Prefect keeps every task's return value until the flow ends (for its dependency
    tracking), so members returned here would be held for every pupil of the run. Only a
    hold keeps them, and a delivery the ledger did not record: the flow records those.
    """
    recorded = ledger.recorded_of(outcomes) if isinstance(ledger, RunLedger) else frozenset()

    def needed(o: DeliveryOutcome) -> bool:
        return o.status == "held" or (o.status == "delivered" and RunLedger.key(o) not in recorded)

    return [o if needed(o) else o.without_members() for o in outcomes]
