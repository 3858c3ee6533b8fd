"""The two lock files: requirements.lock pins production alone, requirements-dev.lock
adds what the test and docs extras bring, both at the versions installed here, and the
worker image takes only the first. (`packaging` is a production dependency: Prefect needs it.)"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROD_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEV_TOOLS = {"pytest", "mypy", "ruff", "hypothesis", "aiosmtpd", "mkdocs", "cogapp"}

# Markers hold if they hold here or on the oldest Python that requires-python allows
# (as `uv pip compile --python-version 3.11` reads them): redis needs async-timeout
# below 3.11.3, so it is pinned even where it is not needed.
_OLDEST = Version(PROJECT["requires-python"].removeprefix(">="))
_HERE = {key: str(value) for key, value in default_environment().items()}
ENVIRONMENTS = [
    _HERE,
    {
        **_HERE,
        "python_version": f"{_OLDEST.major}.{_OLDEST.minor}",
        "python_full_version": f"{_OLDEST.major}.{_OLDEST.minor}.{_OLDEST.micro}",
    },
]


def closure(requirements: Iterable[str]) -> dict[str, str]:
    """Every distribution the requirements need, transitively, extras followed: normalized
    name -> installed version. A needed distribution that is not installed raises."""

    def applies(req: Requirement, extra: str) -> bool:
        return req.marker is None or any(
            req.marker.evaluate({**env, "extra": extra}) for env in ENVIRONMENTS
        )

    found: dict[str, str] = {}
    done: set[tuple[str, str]] = set()
    todo = [r for r in map(Requirement, requirements) if applies(r, "")]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        dist = metadata.distribution(req.name)
        found[name] = dist.version
        for extra in ("", *sorted(req.extras)):
            if (name, extra) not in done:
                done.add((name, extra))
                todo += [d for d in map(Requirement, dist.requires or []) if applies(d, extra)]
    return found


def pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a lock file, by normalized name; comments and its
    `-r` line skipped, anything else fails."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(("#", "-r ")):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
        assert match, f"{path.name}: not a pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in out, f"{path.name}: {name} pinned twice"
        out[name] = match[2]
    return out


PRODUCTION = closure(PROJECT["dependencies"])
EXTRAS = PROJECT["optional-dependencies"]
WITH_TESTS = closure(PROJECT["dependencies"] + EXTRAS["test"] + EXTRAS["docs"])


def test_requirements_lock_pins_exactly_production() -> None:
    pinned = set(pins(PROD_LOCK))
    assert not set(PRODUCTION) - pinned, "missing"
    assert not pinned - set(PRODUCTION), "not needed by [project] dependencies"
    assert not DEV_TOOLS & pinned
    assert "packaging" in pinned  # imported by these tests: it must be in a lock


def test_requirements_dev_lock_reads_production_and_pins_the_extras_beyond_it() -> None:
    lines = [
        line for line in DEV_LOCK.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "-r requirements.lock"
    assert lines.count("-r requirements.lock") == 1
    pinned = set(pins(DEV_LOCK))
    extra = set(WITH_TESTS) - set(PRODUCTION)
    assert not extra - pinned, "missing"
    assert not pinned - extra, "in production already, or not needed by the extras"
    assert pinned >= DEV_TOOLS


def test_every_pin_is_the_installed_version() -> None:
    for lock in (PROD_LOCK, DEV_LOCK):
        stale = {
            name: (version, metadata.version(name))
            for name, version in pins(lock).items()
            if Version(metadata.version(name)) != Version(version)
        }
        assert not stale, f"{lock.name}: pinned vs installed: {stale}"


def test_the_worker_image_installs_production_only() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    instructions = "\n".join(
        line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")
    )
    assert re.search(r"pip install [^\n]*-r requirements\.lock\b", instructions)
    assert "requirements-dev" not in instructions
