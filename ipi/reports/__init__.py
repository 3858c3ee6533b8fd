"""Amazon report types ipi reads: one module each, and detection from the header.

To add a report type: write ``ipi/reports/<report_type_lowercase>.py`` with a
``SPEC``, list it in ``_MODULES``, add its table in a new migration, and drop
golden files in ``tests/data/reports/<REPORT_TYPE>/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ipi.errors import UnknownReport
from ipi.reports import (
    get_fba_inventory_planning_data,
    get_fba_myi_unsuppressed_inventory_data,
    get_ledger_summary_view_data,
    get_stranded_inventory_ui_data,
)
from ipi.reports._base import (
    STAGE,
    Column,
    ReportSpec,
    Staged,
    check_unique,
    normalize_header,
    plan_direct,
    stage,
)

_MODULES = (
    get_fba_inventory_planning_data,
    get_stranded_inventory_ui_data,
    get_fba_myi_unsuppressed_inventory_data,
    get_ledger_summary_view_data,
)
REGISTRY: dict[str, ReportSpec] = {m.SPEC.report_type: m.SPEC for m in _MODULES}

# A header must carry half of a report's signature columns, or three of them: enough
# for a custom download that kept only the columns ipi needs.
_MIN_SHARE, _MIN_HITS = 0.5, 3


def detect(header: Sequence[str], path: Path | str) -> ReportSpec:
    """The report type whose signature columns the header carries best."""
    scored = sorted(((spec.match(header), spec) for spec in REGISTRY.values()),
                    key=lambda t: t[0][1], reverse=True)
    (hits, share), best = scored[0]
    if share < _MIN_SHARE and hits < _MIN_HITS:
        if len(header) == 1 and header[0].count(",") >= 3:
            raise UnknownReport(
                "the file is comma-separated (saved from a spreadsheet?); ipi reads the "
                "tab-separated report as Seller Central or the SP-API gives it",
                path=path,
            )
        # Its size, never its text: the first line of a wrong file may be a secret.
        raise UnknownReport(
            f"its first line ({len(header)} column(s)) matches no report type ipi reads "
            f"({', '.join(REGISTRY)}); drop the tab-separated report as Seller Central or "
            "the SP-API gives it",
            path=path,
        )
    return best


__all__ = ["REGISTRY", "STAGE", "Column", "ReportSpec", "Staged", "check_unique", "detect",
           "normalize_header", "plan_direct", "stage"]
