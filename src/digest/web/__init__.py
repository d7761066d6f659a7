"""digest's web pages (`digest serve`): unsubscribe, subscribe, web versions of issues, and the
editors' draft, preview and approval pages."""

from digest.web.app import create_app
from digest.web.pages import Limits

__all__ = ["Limits", "create_app"]
