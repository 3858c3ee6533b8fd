"""State hooks: a run that fails or crashes says so through ipi's own alerting path.

Failures ipi already reported per account (a report set aside, refused credentials:
``IngestFailed``) are not sent twice; anything else (a bug, a broken store, a worker
killed mid-run) goes to every ops target with the run's name and, when
``PREFECT_UI_URL`` is set, a link to it.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from ipi import pipeline
from ipi.errors import IngestFailed
from ipi.settings import load_settings

log = logging.getLogger("ipi.flows")


def ops_alert(flow: Any, flow_run: Any, state: Any) -> None:
    from prefect.settings import PREFECT_UI_URL

    try:
        exc = state.result(raise_on_failure=False)
    except Exception as raised:  # a crashed run's result may not be readable
        exc = raised
    if isinstance(exc, IngestFailed):
        return
    what = f"{state.type.value.lower()}: {state.message or exc}"
    try:
        settings = load_settings(flow_run.parameters.get("config"))
    except Exception:
        log.exception("flow run %s %s and its configuration cannot be read: no alert can "
                      "be sent", flow_run.name, what)
        return
    ui = PREFECT_UI_URL.value()
    link = f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else None
    day = flow_run.parameters.get("day")
    pipeline.report_run_failure(settings, f"{flow.name}/{flow_run.name}", what, link,
                                date.fromisoformat(str(day)) if day else None)
