"""The variables step 4 reads, with pydantic-settings: each from the environment (or a .env
file in the current folder), checked, with its default. `make env STEP=step04` prints what
`make step04` gives; .env.example says what each one means.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    celery_broker_url: str = "amqp://guest:guest@localhost:5672//"
    celery_result_backend: str = "redis://localhost:6379/0"
    # With the embedded default's broker (filesystem://), where the messages are kept.
    celery_broker_folder: Path = Path(".run/broker")
    # Its own queue; the sum tasks go to "<this>-sum" (the seed's "default-sum").
    celery_task_default_queue: str = "default"
    # The seed's durations (add 20 s, multiply 2 s, sum_multiply 2 s) times this: 0.1 for a
    # quick demo, 0 in the tests. At most 2: add then takes 40 s, 5 s under its 45 s soft time
    # limit (celeryconfig.py), room for its writes to Redis; at 2.25 its sleeps would take 45 s.
    task_delay_scale: float = Field(1.0, ge=0, le=2)
    # The Host headers it answers (middleware.py); another gets a 400. A web page whose domain
    # an attacker points at 127.0.0.1 (DNS rebinding) sends its own name: it cannot start tasks
    # here. ALLOWED_HOSTS='["localhost", "myhost"]' replaces the list.
    allowed_hosts: list[str] = ["localhost", "127.0.0.1"]


@lru_cache
def get_settings() -> Settings:
    return Settings()
