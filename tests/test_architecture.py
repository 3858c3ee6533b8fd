"""House rules that keep the code in its rooms."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Import(NamedTuple):
    """One import: ``target`` is absolute (relative imports resolved): ``a.b`` for
    ``import a.b``, ``m.x`` for ``from m import x``; ``binds`` is (local name, what it names)."""

    line: int
    target: str
    binds: tuple[str, str] | None
    type_checking: bool  # under ``if TYPE_CHECKING:``


@functools.cache
def _modules(root: Path = ROOT, folders: tuple[str, ...] = ("ipi", "flows")
             ) -> list[tuple[str, Path, ast.Module]]:
    """Every module of ipi/ and flows/ (or of other folders), parsed once: (dotted name,
    path, tree)."""
    found = []
    for path in sorted(p for folder in folders for p in (root / folder).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path, ast.parse(path.read_text(), str(path))))
    return found


def _imports(module: str, path: Path, tree: ast.Module) -> Iterator[Import]:
    """Every import of a module, lazy ones in functions included, and every
    ``importlib.import_module("m")`` or ``__import__("m")`` of a string literal."""
    guarded = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
               for stmt in node.body for n in ast.walk(stmt)}
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        tc = id(node) in guarded
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]  # ``import a.b`` binds a; ``import a.b as c``, a.b
                binds = (a.asname, a.name) if a.asname else (top, top)
                yield Import(node.lineno, a.name, binds, tc)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, node.module] if node.module else base)
            for a in node.names:
                target = f"{source}.{a.name}"
                yield Import(node.lineno, target, (a.asname or a.name, target), tc)
        elif (isinstance(node, ast.Call) and node.args
              and ast.unparse(node.func) in ("importlib.import_module", "import_module",
                                             "__import__")
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield Import(node.lineno, node.args[0].value, None, tc)


def _library_imports_of_flows_or_prefect(root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{i.line} {i.target}"
            for module, path, tree in _modules(root) if module.split(".")[0] == "ipi"
            for i in _imports(module, path, tree)
            if i.target.split(".")[0] in ("prefect", "flows")]


def test_library_never_imports_flows_or_prefect() -> None:
    """ipi/ is a plain library: no module in it imports prefect or flows/, not lazily in a
    function, not by importlib, not even under TYPE_CHECKING (flows/ imports ipi/)."""
    offenders = _library_imports_of_flows_or_prefect()
    assert offenders == [], "\n".join(offenders)


def _package(dotted: str, root: Path = ROOT) -> str:
    """ipi.X for anything in the directory ipi/X/, else its top: ipi (ipi/*.py) or flows."""
    parts = dotted.split(".")
    if parts[0] == "ipi" and len(parts) > 1 and (root / "ipi" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_named(expr: ast.expr, bound: dict[str, str], modules: set[str]) -> str | None:
    """The module an expression such as ``d`` or ``ipi.store`` names, if it names one."""
    if isinstance(expr, ast.Name):
        return bound.get(expr.id)
    if isinstance(expr, ast.Attribute) and (base := _module_named(expr.value, bound, modules)):
        return f"{base}.{expr.attr}" if f"{base}.{expr.attr}" in modules else None
    return None


def _private_crossings(root: Path = ROOT) -> list[str]:
    modules = _modules(root)
    names = {m for m, _, _ in modules}
    offenders = []
    for module, path, tree in modules:
        imports = list(_imports(module, path, tree))
        used = [(i.line, i.target) for i in imports]
        bound = dict(i.binds for i in imports if i.binds and i.binds[1] in names)
        used += [(node.lineno, f"{base}.{node.attr}") for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and _is_private(node.attr)
                 and (base := _module_named(node.value, bound, names))]
        offenders += [f"{path.relative_to(root)}:{line} {dotted}" for line, dotted in sorted(used)
                      if dotted.split(".")[0] in ("ipi", "flows")
                      and any(_is_private(part) for part in dotted.split("."))
                      and _package(dotted, root) != _package(module, root)]
    return offenders


def test_no_private_name_crosses_packages() -> None:
    """A _private name or _private module is its package's own (ipi.X for ipi/X/, ipi for
    ipi/*.py, flows): no other package imports it or reaches it as ``module._name``."""
    offenders = _private_crossings()
    assert offenders == [], "\n".join(offenders)


def _shortest_cycle(graph: dict[str, set[str]], start: str) -> list[str]:
    paths, todo = {start: [start]}, [start]
    for node in todo:  # breadth first: todo grows while it is walked
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                todo.append(nxt)
    return []


def _import_cycles(root: Path = ROOT) -> list[str]:
    modules = _modules(root)
    graph: dict[str, set[str]] = {m: set() for m, _, _ in modules}
    for module, path, tree in modules:
        for i in _imports(module, path, tree):
            parts = i.target.split(".")  # m.x is module m.x if there is one, else m
            prefixes = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
            target = next((p for p in prefixes if p in graph), None)
            if target not in (None, module) and not i.type_checking:
                graph[module].add(target)
    cycles, seen = [], set()
    for module in sorted(graph):
        if module not in seen and (cycle := _shortest_cycle(graph, module)):
            cycles.append(" -> ".join(cycle))
            seen.update(cycle)
    return cycles


def test_no_import_cycle() -> None:
    """No module of ipi/ or flows/ imports itself back through others, lazy imports in
    functions included (imports under TYPE_CHECKING never run, so they may)."""
    cycles = _import_cycles()
    assert cycles == [], "\n".join(cycles)


def test_the_library_never_imports_its_test_helpers() -> None:
    """ipi.testing (the fake SP-API, report builders) ships with ipi for tests: no other
    module of ipi/ or flows/ imports it, so nothing in production runs a fake."""
    offenders = [f"{path.relative_to(ROOT)}:{i.line} {i.target}"
                 for module, path, tree in _modules() if not _in(module, "ipi.testing")
                 for i in _imports(module, path, tree) if _in(i.target, "ipi.testing")]
    assert offenders == [], "\n".join(offenders)


def _in(dotted: str, package: str) -> bool:
    return dotted == package or dotted.startswith(package + ".")


def _is_test_module(path: Path) -> bool:
    """What pytest imports itself: test_*.py and conftest.py."""
    return path.name == "conftest.py" or path.name.startswith("test_")


def _file_of(dotted: str, root: Path = ROOT) -> Path | None:
    """The file of the module an import names (``a.b.x``: a/b/x.py, else a/b.py, ...)."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:n])
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
    return None


def _test_imports_of_tests(root: Path = ROOT) -> list[str]:
    offenders = []
    for module, path, tree in _modules(root, ("tests",)):
        for i in _imports(module, path, tree):
            target = _file_of(i.target, root) if _in(i.target, "tests") else None
            if target is not None and (_is_test_module(target) or any(
                    _is_private(part) for part in i.target.split("."))):
                offenders.append(f"{path.relative_to(root)}:{i.line} {i.target}")
    return offenders


def test_no_test_module_imports_another() -> None:
    """No module under tests/ imports a test module or a conftest.py, nor a _private name
    of another module: pytest imports those itself, under names of its own, and a second
    import (``tests.conftest``) runs the module again, its classes and state a second
    copy. What tests share is in helper modules (tests/helpers.py, tests/<folder>/
    helpers.py) or ships with ipi (ipi.testing); fixtures stay in conftest.py."""
    offenders = _test_imports_of_tests()
    assert offenders == [], "\n".join(offenders)


def test_benchmarks_import_packages_only() -> None:
    """bench/ is a package run from the repository root (``python -m bench.fleet``): its
    scripts import ipi, ipi.testing and each other as packages, never edit sys.path to
    reach code, and never import the tests."""
    offenders = []
    for module, path, tree in _modules(ROOT, ("bench",)):
        where = path.relative_to(ROOT)
        offenders += [f"{where}:{i.line} {i.target}" for i in _imports(module, path, tree)
                      if _in(i.target, "tests") or _in(i.target, "sys.path")]
        offenders += [f"{where}:{n.lineno} sys.path" for n in ast.walk(tree)
                      if isinstance(n, ast.Attribute) and ast.unparse(n) == "sys.path"]
    assert offenders == [], "\n".join(offenders)


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
            "SELECT column_name FROM information_schema.columns WHERE table_name = $table",
            {"table": spec.table})}
        wanted = {c.name for c in spec.columns} - {spec.date_column, spec.marketplace_column}
        assert wanted <= cols, (spec.report_type, wanted - cols)


def _third_party_imports() -> dict[str, set[str]]:
    """Each declared-or-not distribution the code of ipi/ and flows/ imports directly
    (normalized name) -> the files importing it."""
    import importlib.metadata
    import sys

    dists = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for module, path, tree in _modules():
        for i in _imports(module, path, tree):
            top = i.target.split(".")[0]
            if top in sys.stdlib_module_names or top in ("ipi", "flows", "__future__"):
                continue
            for dist in dists.get(top, [top]):
                found.setdefault(_normal(dist), set()).add(str(path.relative_to(ROOT)))
    return found


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def _declared(extra: str | None = None) -> set[str]:
    """The packages pyproject.toml declares: ipi's own dependencies, or an extra's."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {_normal(re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0]) for r in listed}


def test_every_package_the_code_imports_is_declared() -> None:
    """Each third-party package imported by ipi/ or flows/ (ipi.testing included) is a
    declared dependency, not one that merely happens to come with another, nor one only
    the tests install (the ``test`` extra: pytest, hypothesis, aiosmtpd, playwright), so
    that ipi.testing works wherever ipi is installed."""
    test_only = _declared("test") - _declared()
    assert {"pytest", "hypothesis", "aiosmtpd", "playwright"} <= test_only
    missing = {f"{d} ({', '.join(sorted(files))})" + (" [test-only]" if d in test_only else "")
               for d, files in _third_party_imports().items() if d not in _declared()}
    assert sorted(missing) == []


# Declared without an import of ours: SQLAlchemy loads it by the URL's name (duckdb://).
PLUGINS = {"duckdb-engine"}


def test_no_declared_package_goes_unused() -> None:
    """Each declared dependency is imported by ipi/ or flows/ (or is a plugin another
    loads by name): nothing is installed in production for nothing."""
    unused = _declared() - set(_third_party_imports()) - PLUGINS
    assert sorted(unused) == []


def test_the_faces_hold_no_sql() -> None:
    """The CLI, the Python API, the seller's page, the dashboard and the flows are shells:
    every query lives in the package that owns its table."""
    import re

    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET|WHERE)\b")
    faces = [*(ROOT / "ipi" / "cli").glob("*.py"), ROOT / "ipi" / "api.py",
             ROOT / "ipi" / "page.py", *(ROOT / "ipi" / "web").glob("*.py"),
             *(ROOT / "flows").glob("*.py")]
    found = [f"{path.relative_to(ROOT)}:{n.lineno}" for path in faces
             for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and sql.search(n.value)]
    assert found == []


def test_errors_are_raised_by_remedy_never_as_the_base_class() -> None:
    """Every error says what to do by its class (ipi.errors): ``raise IpiError(...)``
    tells the operator nothing; pick ConfigError, UsageError, NotFound..."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno}"
             for _, path, tree in _modules() for node in ast.walk(tree)
             if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
             and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "IpiError"]
    assert not found, f"raise a subclass of IpiError, by remedy: {found}"


def _outside_the_store() -> Iterator[tuple[str, Path, ast.Module]]:
    return ((m, p, t) for m, p, t in _modules() if not (m == "ipi.store"
                                                          or m.startswith("ipi.store.")))


def test_only_the_store_imports_sqlalchemy() -> None:
    """SQLAlchemy is the store's engine (migrations, an analyst's tools): no module outside
    ipi/store imports it, not lazily, not under TYPE_CHECKING, save ipi/api.py, where an
    analyst's pandas.read_sql may meet the engine."""
    found = [f"{path.relative_to(ROOT)}:{i.line} {i.target}"
             for module, path, tree in _outside_the_store() if module != "ipi.api"
             for i in _imports(module, path, tree) if i.target.split(".")[0] == "sqlalchemy"]
    assert found == []


def test_one_door_to_the_database() -> None:
    """Outside ipi/store, the database is reached by ``read()`` and ``write()`` alone: no
    ``.begin()`` on a store (a SQLAlchemy transaction), no ``duck(`` unwrapping one."""
    found = [f"{path.relative_to(ROOT)}:{n.lineno} {ast.unparse(n.func)}"
             for _, path, tree in _outside_the_store() for n in ast.walk(tree)
             if isinstance(n, ast.Call)
             and ((isinstance(n.func, ast.Attribute) and n.func.attr == "begin")
                  or ast.unparse(n.func).split(".")[-1] == "duck")]
    assert found == []


def _sql_texts() -> Iterator[tuple[str, str]]:
    """Each string literal of the library (an f-string with its holes as written), where."""
    for _, path, tree in _modules(folders=("ipi",)):
        for n in ast.walk(tree):
            if isinstance(n, ast.Constant) and isinstance(n.value, str):
                yield f"{path.relative_to(ROOT)}:{n.lineno}", n.value
            elif isinstance(n, ast.JoinedStr):
                yield f"{path.relative_to(ROOT)}:{n.lineno}", ast.unparse(n)


def test_every_insert_names_its_columns() -> None:
    """A column added to a table never shifts an INSERT's values into the wrong one:
    each names its columns (or inserts BY NAME)."""
    import re

    positional = re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\w.{}]+\s+(?!\(|BY\s+NAME)",
                            re.IGNORECASE)
    found = [where for where, text in _sql_texts() if positional.search(text)]
    assert found == []


def test_one_parameter_style() -> None:
    """Parameters are named (``$day``), never positional ``?``: a statement reads the same
    wherever it is, and no argument list must follow its placeholders' order."""
    import re

    qmark = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES)\b[^'\"]*\?")
    found = [where for where, text in _sql_texts() if qmark.search(text)]
    assert found == []
