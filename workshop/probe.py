"""Ask a broker which Celery workers are alive, without importing any step's code."""

from celery import Celery

from workshop.settings import Settings, filesystem_transport_options


def broker_url_for(health: dict) -> tuple[str, dict]:
    """The broker of a running step: /health says if it is embedded; .env has the password."""
    settings = Settings()
    if health["broker"]["embedded"]:
        return "filesystem://", filesystem_transport_options(settings.workshop_run_dir)
    return settings.celery_broker_url, {}


def ping_workers(broker_url: str, transport_options: dict, timeout: float = 2.0) -> list[str]:
    """Names of the workers that answer a ping within `timeout` seconds (kombu errors propagate)."""
    app = Celery("workshop-probe", broker=broker_url, set_as_current=False)
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_timeout=2,
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        accept_content=["json"],
    )
    try:
        replies = app.control.ping(timeout=timeout) or []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def queue_depth(broker_url: str, transport_options: dict, queue: str) -> int:
    """Messages waiting in `queue` (0 when the broker cannot tell, or the queue does not exist)."""
    from kombu import Connection

    try:
        with Connection(
            broker_url, transport_options=transport_options, connect_timeout=2
        ) as connection:
            return connection.default_channel.queue_declare(queue, passive=True).message_count
    except Exception:  # no such queue yet, or a transport that cannot count
        return 0
