"""``ipi init``: a commented configuration and its drop folder, to start from.

The configuration is the package's own copy of config/ipi.example.toml (package data),
so ``ipi init`` works from an installed package as well as from the repository.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ipi.errors import ConfigError, UsageError
from ipi.settings import Settings, load_settings

CONFIG_NAME = "ipi.toml"


def template() -> str:
    """The commented configuration ``ipi init`` writes."""
    return resources.files("ipi").joinpath("templates", CONFIG_NAME).read_text(encoding="utf-8")


def init(folder: Path) -> tuple[Path, Settings]:
    """Write ``folder/ipi.toml`` and create each account's drop folder; never overwrite.
    Returns the file and its settings (loaded the way every command loads them)."""
    config = folder.expanduser().resolve() / CONFIG_NAME
    try:
        config.parent.mkdir(parents=True, exist_ok=True)
        with config.open("x", encoding="utf-8") as f:  # "x": fails if it exists, atomically
            f.write(template())
    except FileExistsError:
        raise ConfigError(f"{config} already exists: edit it, or pass another folder "
                          "(ipi init DIR); nothing was written") from None
    except OSError as exc:
        raise UsageError(f"cannot write {config}: {exc.strerror}; choose a folder you can "
                         "write to") from None
    settings = load_settings(config, env={})
    for account in settings.accounts:
        settings.drop_dir(account).mkdir(parents=True, exist_ok=True)
    return config, settings
