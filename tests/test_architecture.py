"""House rules that keep the code in its rooms."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_library_never_imports_prefect() -> None:
    """ipi/ is a plain library: no module in it imports prefect (flows/ does that)."""
    offenders = []
    for path in (ROOT / "ipi").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "prefect" or n.startswith("prefect.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_report_module_is_registered_and_named_after_its_type() -> None:
    """One module per report type, named after it, each in the registry."""
    from ipi.reports import REGISTRY

    modules = {p.stem for p in (ROOT / "ipi" / "reports").glob("get_*.py")}
    assert modules == {t.lower() for t in REGISTRY}


def test_every_report_spec_column_exists_in_its_table(fresh_db) -> None:  # type: ignore[no-untyped-def]
    """The migrations create a column for every column a report spec loads."""
    from ipi.reports import REGISTRY

    for spec in REGISTRY.values():
        cols = {r["column_name"] for r in fresh_db.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [spec.table])}
        wanted = {c.name for c in spec.columns} - {spec.date_column, spec.marketplace_column}
        assert wanted <= cols, (spec.report_type, wanted - cols)


def test_every_package_the_code_imports_is_declared() -> None:
    """Each third-party package imported by ipi/ or flows/ is a declared dependency, not
    one that merely happens to come with another."""
    import importlib.metadata
    import re
    import sys
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in project["dependencies"]}
    dists = importlib.metadata.packages_distributions()
    missing = set()
    for path in [*(ROOT / "ipi").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in ("ipi", "flows"):
                    continue
                names = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
                if not names & declared:
                    missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert sorted(missing) == []


def test_the_cli_holds_no_sql() -> None:
    """ipi/cli.py is a shell: every query lives in the package that owns its table."""
    import re

    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET|WHERE)\b")
    tree = ast.parse((ROOT / "ipi" / "cli.py").read_text())
    found = [n.lineno for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and sql.search(n.value)]
    assert found == []
