"""What every command shares: the context object (settings loaded once, the clock, quiet output,
the dependencies for the use cases) and the one place errors become exit codes.

Exit status: 0 all went well; 1 the job ran but something needs attention (a feed failed, a delivery
failed, bad CSV rows were skipped); 2 bad configuration or input, nothing was done; 3 another run
holds the lock; 4 sending stopped (mail server unreachable, credentials refused, or the server
refused the issue itself: its size, the sender's policy) or the store is unusable: pending
deliveries stay pending for the next run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from digest.errors import (
    ConfigError,
    DigestError,
    LockError,
    RenderError,
    SendError,
    SubscriberError,
)

if TYPE_CHECKING:
    from digest.app import Deps
    from digest.settings import Settings

EXIT_OK, EXIT_TROUBLE, EXIT_INPUT, EXIT_LOCKED, EXIT_STOPPED = 0, 1, 2, 3, 4

Clock = Callable[[], datetime]


class Context:
    """The object every command gets (``click.pass_obj``): settings are read on first use."""

    def __init__(self, config_value: str | None, quiet: bool, clock: Clock | None = None) -> None:
        self.config_value = config_value
        self.quiet = quiet
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The configuration (--config, $DIGEST_CONFIG or ./feeds.yaml); ``ConfigError``."""
        if self._settings is None:
            from digest import config

            path = config.config_path(self.config_value, os.environ)
            self._settings = config.load(path, os.environ)
        return self._settings

    def say(self, message: str = "") -> None:
        """Print ``message`` unless --quiet."""
        if not self.quiet:
            click.echo(message)

    def deps(self, *, show_progress: bool = True) -> Deps:
        """The use cases' dependencies: the configured sender, this clock, and a progress line
        on stderr for long sends (unless --quiet); the result itself is printed once, by the
        command, after the feeds."""
        from digest.app import make_deps
        from digest.delivery.progress import Progress

        progress = Progress(sys.stderr, summary=False) if show_progress and not self.quiet else None
        return make_deps(self.settings, clock=self.clock, progress=progress)


def fail(code: int, message: str) -> NoReturn:
    """Print ``digest: message`` on stderr and exit with ``code``."""
    click.echo(f"digest: {message}", err=True)
    sys.exit(code)


def guarded(fn: Callable[..., int]) -> Callable[..., None]:
    """Run a command; map the error tree to exit codes (never a traceback for a known error)."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs)
        except (ConfigError, SubscriberError, RenderError) as exc:
            fail(EXIT_INPUT, str(exc))
        except LockError as exc:
            fail(EXIT_LOCKED, str(exc))
        except SendError as exc:
            fail(EXIT_STOPPED, f"sending stopped: {exc}; unsent messages stay pending, "
                 "run `digest send` to carry on")
        except DigestError as exc:
            fail(EXIT_STOPPED, str(exc))
        sys.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
