"""The variables only step 3 reads, on top of the workshop's (workshop/settings.py).

Every one is in .env.example. `make step03` passes them to Django and the worker.
"""

from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode

from workshop.settings import Settings


class Step03Settings(Settings):
    # Its own queue: a step-2 worker on the same broker never receives a scrape.
    celery_task_default_queue: str = "scraper"
    # Unset: a random key kept in .run/django-key (never in the repository).
    django_secret_key: str | None = None
    # Debug pages and tracebacks in the browser: only while developing (`make step03`).
    django_debug: bool = False
    # Served over HTTPS by a proxy in front: secure cookies, HSTS, http:// redirected.
    django_https: bool = False
    # The host names this site answers to (comma-separated).
    django_allowed_hosts: Annotated[list[str], NoDecode] = ["localhost", "127.0.0.1"]
    # Where the scraper finds the demo blog (unset: http://127.0.0.1:$DEMO_BLOG_PORT).
    demo_blog_url: str | None = None
    # More feeds the scraper may read, comma-separated; the demo blog is always allowed.
    scrape_sources: Annotated[list[str], NoDecode] = []

    @field_validator("django_allowed_hosts", "scrape_sources", mode="before")
    @classmethod
    def comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
