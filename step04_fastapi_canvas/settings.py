"""The variables step 4 reads, with pydantic-settings (every one is in .env.example).

The servers (CELERY_BROKER_URL, CELERY_RESULT_BACKEND...) come from the workshop's model, which
this class extends.
"""

from functools import lru_cache

from pydantic import Field

from workshop.settings import Settings


class Step04Settings(Settings):
    # The seed's durations (add 20 s, multiply 2 s, sum_multiply 2 s) times this: 0.1 for a
    # quick demo, 0 in the tests; at most 2, so that add (40 s) ends before its 45 s limit.
    task_delay_scale: float = Field(1.0, ge=0, le=2)
    # Its own queue; the sum tasks go to "<this>-sum" (the seed's "default-sum").
    celery_task_default_queue: str = "default"


@lru_cache
def get_settings() -> Step04Settings:
    return Step04Settings()
