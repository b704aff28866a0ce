"""Publish a batch's rendered deliveries: intents, the drop, confirmations, archive copies."""

from __future__ import annotations

from dataclasses import dataclass, replace

from connectors.drops.base import Delivery, Drop
from connectors.drops.registry import ReconcilableDrop
from connectors.errors import DeliveryError, SluisError
from connectors.i18n import _
from pipelines import stopping
from pipelines.delivery_outcome import DeliveryOutcome, DeliveryTargets

__all__ = [
    "Planned",
    "failed_outcome",
    "publish_planned",
]


@dataclass(frozen=True)
class Planned:
    """A delivery rendered for the drop and not published yet.

    Attributes:
        outcome: what it will be once published (status delivered, no location yet).
        delivery: its files and manifest.
    """

    outcome: DeliveryOutcome
    delivery: Delivery


def publish_planned(
    planned: list[Planned], drop: Drop, targets: DeliveryTargets
) -> list[DeliveryOutcome]:
    """Publish a batch's rendered deliveries, each atomically, recorded in two commits.

    With a ledger: every intent is committed before the first delivery becomes visible,
    and every delivery the drop took is confirmed in one commit after the last. A kill in
    between leaves intents that the next run settles against the drop. A signal that
    asks the run to stop keeps the deliveries not yet started from starting; their
    intents are rolled back with the confirmation.

    Returns:
        The outcomes, in the order of `planned`.
    """
    ledger = targets.ledger
    if ledger is not None:
        try:
            ledger.intend([item.outcome for item in planned])
        except SluisError as exc:
            # Nothing of the batch started: a stop, or a lineage database that cannot be used.
            return [failed_outcome(item.outcome, exc) for item in planned]
    outcomes = [item.outcome for item in planned]
    published: list[DeliveryOutcome] = []  # the drop has them: confirmed
    unpublished: list[DeliveryOutcome] = []  # the drop never got them: rolled back
    sent: list[int] = []  # published as planned, so archived too
    try:
        for n, item in enumerate(planned):
            stop = stopping.requested() if ledger is not None else None
            if stop is not None:
                unpublished.append(item.outcome)
                outcomes[n] = failed_outcome(item.outcome, stop)
                continue
            try:
                receipt = drop.publish(item.delivery)
            except DeliveryError as exc:
                outcomes[n] = failed_outcome(item.outcome, exc)
                if ledger is not None:
                    _settle_failed(drop, item.outcome, published, unpublished)
                continue
            outcomes[n] = replace(
                item.outcome, location=receipt.location, manifest_sha256=receipt.manifest_sha256
            )
            published.append(outcomes[n])
            sent.append(n)
    except BaseException:
        # What reached the drop is recorded before the error goes on.
        if ledger is not None and (published or unpublished):
            ledger.confirm(published, unpublished=unpublished)
        raise
    if ledger is not None and (published or unpublished):
        try:
            ledger.confirm(published, unpublished=unpublished)
        except SluisError as exc:
            # The drop has them and lineage cannot say so now: their intents stay open,
            # for the next run to settle against the drop.
            for n in sent:
                outcomes[n] = failed_outcome(planned[n].outcome, exc)
            sent = []
    if targets.archive is not None:
        for n in sent:
            # After the drop: only what reached the supplier is kept, for re-delivery.
            # Losing the copy costs only that, never the delivery itself.
            try:
                targets.archive.publish(planned[n].delivery)
            except DeliveryError as exc:
                note = _("geen archiefkopie om opnieuw te leveren: {exc}").format(exc=exc)
                outcomes[n] = replace(outcomes[n], notes=(*outcomes[n].notes, note))
    return outcomes


def _settle_failed(
    drop: Drop,
    planned: DeliveryOutcome,
    published: list[DeliveryOutcome],
    unpublished: list[DeliveryOutcome],
) -> None:
    """Publishing `planned` failed: settle its intent by what the drop shows now.

    When the drop cannot even be asked, the intent stays open for the next run.
    """
    if not isinstance(drop, ReconcilableDrop):
        return
    try:
        where = drop.find(
            planned.supplier, planned.delivery_id or "", planned.manifest_sha256 or ""
        )
    except DeliveryError:
        return
    if where is None:
        unpublished.append(planned)
    else:
        published.append(replace(planned, location=where))


def failed_outcome(planned: DeliveryOutcome, exc: Exception) -> DeliveryOutcome:
    """A school whose delivery failed; its counts stay, its delivery never happened."""
    return DeliveryOutcome(
        supplier=planned.supplier,
        school=planned.school,
        status="failed",
        delivery_id=None,
        mode=planned.mode,
        fields=planned.fields,
        counts=planned.counts,
        notes=(str(exc),),
        agreement_sha256=planned.agreement_sha256,
        agreement_reference=planned.agreement_reference,
        created_at=planned.created_at,
    )
