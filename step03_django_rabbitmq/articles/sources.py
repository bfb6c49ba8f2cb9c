"""Which sources may be scraped: the demo blog and SCRAPE_SOURCES (project/settings.py)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def allowed() -> list[str]:
    return settings.SCRAPER["ALLOWED_SOURCES"]


def check(source: object) -> str:
    """`source` if it may be scraped; otherwise a ValidationError that says why."""
    if not isinstance(source, str):
        raise ValidationError('"source" must be a string: the URL of a feed or an index page.')
    try:
        parts = urlsplit(source)
    except ValueError:  # "http://[::1", an IPv6 address that does not end
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f'"source" must be an http(s) URL, not {source[:200]!r}.')
    if source not in allowed():
        raise ValidationError(
            f"{source[:200]} is not in the allowed list. Allowed: {', '.join(allowed())}. "
            "Add more with SCRAPE_SOURCES in .env."
        )
    return source
