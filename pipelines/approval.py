"""Approving held deliveries from the Prefect UI: the flow run pauses and asks for input.

A run started from the UI or a schedule can wait for a person instead of ending: the flow
run pauses with a form (approve yes/no and the approver's name), and the run's markdown
description lists what is held and why. Resuming with approve = true publishes the held
deliveries exactly as `sluis approve` does, recording the name given with "prefect-ui:".
Not answering within the wait leaves them held; `sluis approve` still works afterwards.
"""

from __future__ import annotations

import logging

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from connectors.errors import SluisError
from connectors.i18n import N_, _, ngettext
from pipelines.delivery import DeliveryOutcome
from pipelines.holds import Released, approve
from pipelines.settings import Settings

__all__ = ["POLL_SECONDS", "HoldApproval", "wait_for_approval"]

# How often the paused run asks the API whether it was resumed.
POLL_SECONDS = 10


# The form's labels; translated where the form is built (wait_for_approval), since the
# class is built before the language is set.
_APPROVE_HELP = N_("De tegengehouden leveringen hierboven ongewijzigd vrijgeven")
_APPROVER_HELP = N_("Naam van wie goedkeurt: die komt in het auditlog van Sluis")


class HoldApproval(RunInput):
    """The form the Prefect UI shows on a paused run with held deliveries."""

    approve: bool = Field(False, description=_APPROVE_HELP)
    approver: str = Field(..., description=_APPROVER_HELP, min_length=2, max_length=100)


def _description(held: list[DeliveryOutcome], run_id: str) -> str:
    lines = [
        "### " + _("Leveringen wachten op goedkeuring"),
        "",
        _("| leverancier | school | waarom |"),
        "|---|---|---|",
        *(f"| {o.supplier} | {o.school} | {o.hold_reason} |" for o in held),
        "",
        _(
            "Kijk eerst of de export klopt. Goedkeuren levert ze ongewijzigd; of later: {command}."
        ).format(
            command="`sluis approve {run_id} <{supplier}>`".format(
                run_id=run_id, supplier=_("leverancier")
            )
        ),
    ]
    return "\n".join(lines)


def wait_for_approval(
    held: list[DeliveryOutcome],
    *,
    run_id: str,
    settings: Settings,
    minutes: int,
    logger: logging.LoggerAdapter[logging.Logger] | logging.Logger,
) -> list[Released]:
    """Pause the flow run until someone approves or declines in the UI, or time runs out.

    Returns:
        The deliveries released; empty when declined or not answered in time.
    """
    form = HoldApproval.with_initial_data(
        description=_description(held, run_id),
        approve=Field(False, description=_(_APPROVE_HELP)),
        approver=Field(..., description=_(_APPROVER_HELP), min_length=2, max_length=100),
    )
    try:
        answer = pause_flow_run(
            wait_for_input=form, timeout=minutes * 60, poll_interval=POLL_SECONDS
        )
    except FlowPauseTimeout:
        logger.warning(
            _("geen akkoord binnen %d minuten; de leveringen blijven tegengehouden"), minutes
        )
        return []
    if not answer.approve:
        logger.warning(_("akkoord geweigerd; de leveringen blijven tegengehouden"))
        return []
    actor = f"prefect-ui:{answer.approver.strip()}"
    released: list[Released] = []
    for supplier in sorted({o.supplier for o in held}):
        try:
            released.extend(approve(settings, run_id, supplier, actor))
        except SluisError as exc:
            # The run itself is done; what could not be approved stays held, and the
            # message says why (sluis approve can be given again once that is fixed).
            logger.warning(_("%s: niet vrijgegeven: %s"), supplier, exc)
    logger.info(
        ngettext(
            "%d tegengehouden levering in de UI vrijgegeven en gepubliceerd",
            "%d tegengehouden leveringen in de UI vrijgegeven en gepubliceerd",
            len(released),
        ),
        len(released),
    )
    return released
