"""The command line's face: global options in any position, -q, --json on every
listing, shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from ipi.demo import Simulation, write_day
from ipi.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("args", [
    ["--config", "{c}", "-v", "score", "--history", "2"],
    ["score", "--config", "{c}", "-v", "--history", "2"],
    ["-v", "score", "--history", "2", "--config", "{c}"],
])
def test_global_options_work_before_or_after_the_command(
        args: list[str], scored_demo: tuple[Settings, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    _, config = scored_demo
    code, out, _ = _run([a.format(c=config) for a in args], capsys)
    assert code == 0
    assert out.count("acme") == 2  # two days of acme US, whichever way it was asked


def test_an_option_given_before_the_command_is_not_undone_after_it(
        scored_demo: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--config before `alerts silence list` reaches the leaf command (three levels)."""
    _, config = scored_demo
    code, out, err = _run(["--config", str(config), "alerts", "silence", "list", "--json"],
                          capsys)
    assert (code, json.loads(out), err) == (0, [], "")


def test_verbose_and_quiet_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["score", "-v", "-q"])
    assert exit_.value.code == 2
    assert "-v and -q ask for opposite things" in capsys.readouterr().err


def test_quiet_keeps_listings_and_drops_summaries_of_work(
        scored_demo: tuple[Settings, Path], demo_sim: Simulation,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, config = scored_demo
    write_day(demo_sim, 99, tmp_path / "again")  # already loaded: skipped, said
    code, out, _ = _run(["ingest", "--config", str(config), str(tmp_path / "again")], capsys)
    assert code == 0 and "skipped" in out
    code, out, err = _run(["-q", "ingest", "--config", str(config), str(tmp_path / "again")],
                          capsys)
    assert (code, out, err) == (0, "", "")
    code, out, _ = _run(["-q", "score", "--config", str(config), "--json"], capsys)
    assert code == 0 and json.loads(out)[0]["account"] == "acme"


@pytest.mark.parametrize("command, key", [
    (["score"], None),
    (["alerts", "history"], "events"),
    (["alerts", "silence", "list", "--all"], None),
    (["official", "list"], "calibration"),
    (["whatif", "--restock", "NO-SUCH-SKU", "--plan"], "plan"),
    (["check"], None),
    (["config", "show"], None),
])
def test_every_listing_prints_json(command: list[str], key: str | None,
                                   scored_demo: tuple[Settings, Path],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, config = scored_demo
    (config.parent / "data" / "drops" / "acme").mkdir(parents=True, exist_ok=True)
    code, out, _ = _run([*command, "--config", str(config), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    if key:
        assert key in doc
    if command[0] == "whatif":
        assert doc["actions"] == [{"action": "restock", "sku": "NO-SUCH-SKU", "units": 0.0,
                                   "unknown": True, "capped_at": None}]
        assert doc["after"]["score"] == pytest.approx(doc["estimate"]["score"])
    if command == ["check"]:
        assert doc[0]["checks"][0]["check"] == "drop folder" and doc[0]["checks"][0]["ok"]


def test_bash_completion_knows_the_commands_and_their_options(tmp_path: Path) -> None:
    """The script from `ipi completion bash`, loaded by a real bash, completes
    sub-commands and a command's options."""
    script = subprocess.run([sys.executable, "-m", "flows.cli", "completion", "bash"],
                            capture_output=True, text=True, check=True, cwd=ROOT).stdout
    (tmp_path / "ipi.bash").write_text(script)
    bash = shutil.which("bash")
    assert bash
    probe = (f"source {tmp_path / 'ipi.bash'}\n"
             "complete -p ipi\n"
             'COMP_WORDS=(ipi wh); COMP_CWORD=1; COMP_LINE="ipi wh"; COMP_POINT=6\n'
             "$(complete -p ipi | sed -E 's/.*-F ([^ ]+).*/\\1/') ipi wh ipi\n"
             'echo "words: ${COMPREPLY[*]}"\n'
             'COMP_WORDS=(ipi whatif --fix); COMP_CWORD=2; COMP_LINE="ipi whatif --fix"\n'
             "COMP_POINT=16\n"
             "$(complete -p ipi | sed -E 's/.*-F ([^ ]+).*/\\1/') ipi --fix whatif\n"
             'echo "words: ${COMPREPLY[*]}"\n')
    out = subprocess.run([bash, "-c", probe], capture_output=True, text=True).stdout
    assert "complete " in out and " ipi" in out
    assert "words: whatif" in out
    assert "--fix-stranded" in out


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """`ipi ... | head`: the pipe closes before ipi writes; it exits 0, says nothing."""
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "completion", "bash"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert (proc.wait(timeout=60), err) == (0, b"")


def test_a_command_finds_ipi_toml_in_its_folder_and_says_so(
        tmp_path: Path, make_settings: Any) -> None:
    """No --config, no IPI_CONFIG: ./ipi.toml is read, and stderr names it; elsewhere,
    one line says how to name a configuration."""
    _, config = make_settings()
    env = {k: v for k, v in os.environ.items() if k != "IPI_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "config", "show"], cwd=config.parent,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"ipi: reading {config.resolve()} (found here")
    assert "[[accounts]]" in done.stdout or "acme" in done.stdout
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    gone = subprocess.run([sys.executable, "-m", "flows.cli", "config", "show"], cwd=empty,
                          capture_output=True, text=True, env=env)
    assert gone.returncode == 2
    assert gone.stderr.startswith("ipi: error: no configuration: name the file")


def test_the_demos_next_steps_name_an_ipi_this_shell_can_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the virtual environment on PATH (never activated), the path to its ipi;
    with it (activated), the bare name."""
    from flows.demo import next_steps

    here = Path(sys.executable).parent
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert f"  {os.path.relpath(here / 'ipi')} web --config x.toml" in next_steps(Path("x.toml"))
    monkeypatch.setenv("PATH", f"{here}:/usr/bin:/bin")
    assert "  ipi web --config x.toml" in next_steps(Path("x.toml"))
