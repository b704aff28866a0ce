"""`sluis serve`: one deployment per school (or one for the board), on a nightly schedule.

Each deployment runs the `sync` flow for its school with parameters the Prefect UI shows
and validates (SyncRequest forbids unknown keys). The nightly schedule comes from the
settings (02:00 Europe/Amsterdam by default); an agreement with its own `schedule.cron`
gets an extra schedule on the same deployment that syncs only that supplier. Scheduled
runs say trigger "schedule"; a run started with the UI's Run button says "ui".

Serving does not pause the deployments when it stops, so a restart (or a reboot under
systemd) keeps every schedule active.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Schedule

from connectors.i18n import _
from contracts.agreements import LoadedAgreement, load_agreement_set
from pipelines.flows import SLUIS_VERSION, SyncRequest, sync
from pipelines.plan import discover_schools
from pipelines.runners import task_runner_for
from pipelines.settings import Settings

__all__ = ["DeploymentPlan", "build_deployments", "describe", "plan_deployments", "serve_forever"]


@dataclass(frozen=True)
class DeploymentPlan:
    """One deployment: its name, the school it syncs and its schedules."""

    name: str
    school: str | None
    # (cron, suppliers): an empty supplier list means every supplier without its own cron.
    schedules: tuple[tuple[str, tuple[str, ...]], ...]


def _schedules(
    agreements: list[LoadedAgreement], default_cron: str, broken: tuple[str, ...] = ()
) -> list[tuple[str, tuple[str, ...]]]:
    own: dict[str, list[str]] = defaultdict(list)
    # A legal-duty recipient is served on request (sluis verstrek), never on a schedule.
    agreements = [a for a in agreements if not a.agreement.on_request]
    for loaded in agreements:
        cron = loaded.agreement.schedule.cron
        if cron and cron != default_cron:
            own[cron].append(loaded.agreement.id)
    with_own = {s for suppliers in own.values() for s in suppliers}
    # A supplier whose file cannot be read goes with the nightly run, which then fails
    # naming the file, instead of silently having no schedule at all.
    rest = tuple(sorted({a.agreement.id for a in agreements} - with_own | set(broken)))
    # With no own schedules the nightly run covers everyone (suppliers: empty = all).
    schedules = [(default_cron, rest if own else ())]
    schedules += [(cron, tuple(suppliers)) for cron, suppliers in sorted(own.items())]
    return [s for s in schedules if s[1] or not own]


def plan_deployments(settings: Settings, per: Literal["school", "board"]) -> list[DeploymentPlan]:
    """Decide the deployments for the schools under the settings' source folder.

    A bad agreement file does not stop serving: its supplier has no own schedule, each
    run skips it and ends failed, naming the file, until it is fixed.
    """
    found = load_agreement_set(settings.agreements_dir)
    schedules = tuple(_schedules(found.agreements, settings.schedule_cron, tuple(found.skipped)))
    if per == "board":
        return [DeploymentPlan(name="bestuur", school=None, schedules=schedules)]
    schools = discover_schools(settings.source, None, settings.consents_filename)
    return [
        DeploymentPlan(name=f"school-{s.name.lower()}", school=s.name, schedules=schedules)
        for s in schools
    ]


def _request(settings: Settings, plan: DeploymentPlan, **values: Any) -> dict[str, Any]:
    request = SyncRequest(
        source=str(settings.source.resolve()),
        school=plan.school,
        drop=str(settings.drop_dir.resolve()),
        state=str(settings.state_dir.resolve()),
        approval_wait_minutes=settings.approval_wait_minutes,
        **values,
    )
    return {"request": request.model_dump()}


def build_deployments(settings: Settings, plans: list[DeploymentPlan]) -> list[RunnerDeployment]:
    """The runner deployments `sluis serve` serves, one per plan."""
    deployments: list[RunnerDeployment] = []
    # SLUIS_TASK_RUNNER=dask serves every deployment on Dask (SLUIS_DASK_ADDRESS: a cluster).
    flow = sync.with_options(task_runner=task_runner_for(settings))
    for plan in plans:
        schedules: list[Schedule] = [
            Cron(
                cron,
                timezone=settings.schedule_timezone,
                parameters=_request(settings, plan, suppliers=list(suppliers), trigger="schedule"),
            )
            for cron, suppliers in plan.schedules
        ]
        description = (
            _("Sluis: levert school {school} aan haar leveranciers.").format(school=plan.school)
            if plan.school
            else _("Sluis: levert elke school van het bestuur aan haar leveranciers.")
        )
        deployments.append(
            flow.to_deployment(  # type: ignore[arg-type]  # sync call: not a coroutine
                name=plan.name,
                schedules=schedules,
                parameters=_request(settings, plan, trigger="ui"),
                description=description,
                tags=["sluis", plan.school or "bestuur"],
                version=SLUIS_VERSION,
                # One run of a deployment at a time; the lineage lock also keeps runs of
                # different deployments for the same school apart.
                concurrency_limit=1,
            )
        )
    return deployments


def serve_forever(settings: Settings, plans: list[DeploymentPlan]) -> None:
    """Register the deployments and run their flow runs until stopped (Ctrl-C, SIGTERM)."""
    from prefect import serve

    serve(*build_deployments(settings, plans), pause_on_shutdown=False)


def describe(settings: Settings, plans: list[DeploymentPlan]) -> list[str]:
    """One line per deployment and schedule, for the CLI to print before serving.

    And one line per agreement file that cannot be used: its supplier gets nothing.
    """
    lines = [
        _("overeenkomst overgeslagen tot ze is hersteld: {message}").format(message=problem.message)
        for problem in load_agreement_set(settings.agreements_dir).problems
    ]
    for plan in plans:
        for cron, suppliers in plan.schedules:
            who = ", ".join(suppliers) if suppliers else _("alle leveranciers")
            # The deployment's name and the cron expression are what the Prefect UI shows.
            lines.append(
                _("sync/{name}: '{cron}' ({zone}), {who}").format(
                    name=plan.name, cron=cron, zone=settings.schedule_timezone, who=who
                )
            )
    return lines
