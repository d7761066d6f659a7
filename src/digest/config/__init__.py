"""feeds.yaml + environment -> frozen ``Settings``.

Every problem names the file, the line, the dotted key and what was expected; all problems in
the file are reported at once, sorted by line, in one ``ConfigError``. Reading the one file is
the only I/O, apart from checking that a templates folder exists.
"""

from __future__ import annotations

import os.path
from collections.abc import Mapping
from pathlib import Path

from digest.config import yamlpos
from digest.config.sections import SECTIONS
from digest.config.sections import settings as _settings
from digest.config.walk import Ctx, Problem, _Invalid, _Reported
from digest.errors import ConfigError
from digest.settings import Settings

__all__ = ["DEFAULT_CONFIG", "ENV_VAR", "config_path", "load"]

DEFAULT_CONFIG = "feeds.yaml"
ENV_VAR = "DIGEST_CONFIG"
_MAX_SHOWN = 20


def config_path(cli_value: str | None, env: Mapping[str, str]) -> Path:
    """The config file to use: ``--config``, else ``$DIGEST_CONFIG``, else ./feeds.yaml."""
    if cli_value:
        return Path(cli_value)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    return Path(DEFAULT_CONFIG)


def load(path: Path, env: Mapping[str, str]) -> Settings:
    """Read and check the config file at ``path``; raises ``ConfigError`` and nothing else."""
    label = str(path)
    root = yamlpos.compose(_read(path, label), label)
    if root is None or yamlpos.is_null(root):
        raise ConfigError("the file is empty; it needs at least a digest: section and a feeds: "
                          "list (see README)", path=label)
    absolute = Path(os.path.abspath(path))
    ctx = Ctx(label=label, base=absolute.parent, env=env, schema=SECTIONS)
    settings = None
    try:
        settings = _settings(ctx, root, absolute)
    except _Invalid as exc:
        ctx.report(yamlpos.line(root), None, exc.message)
    except _Reported:
        pass
    if ctx.problems or settings is None:
        raise _error(ctx)
    return settings


def _read(path: Path, label: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError("no such file; create one (see README) or pass --config",
                          path=label) from exc
    except IsADirectoryError as exc:
        raise ConfigError("is a folder; name the config file itself", path=label) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=label) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as "
                          "UTF-8", path=label, line=line) from exc


def _error(ctx: Ctx) -> ConfigError:
    unique = list(dict.fromkeys(ctx.problems))
    unique.sort(key=lambda problem: problem.line or 0)
    first, rest = unique[0], unique[1:]
    lines = [str(_as_error(ctx, problem)) for problem in rest[: _MAX_SHOWN - 1]]
    if len(rest) >= _MAX_SHOWN:
        lines.append(f"... and {len(rest) - _MAX_SHOWN + 1} more")
    message = "\n".join([first.message, *lines])
    return ConfigError(message, path=ctx.label, line=first.line, key=first.key)


def _as_error(ctx: Ctx, problem: Problem) -> ConfigError:
    return ConfigError(problem.message, path=ctx.label, line=problem.line, key=problem.key)
