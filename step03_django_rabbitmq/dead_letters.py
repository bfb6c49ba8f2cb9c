"""What waits in the dead-letter queue of step 3's quorum queue (README, section 8).

    .venv/bin/python -m step03_django_rabbitmq.dead_letters --send-poison
    .venv/bin/python -m step03_django_rabbitmq.dead_letters

The first sends the task `poison`, which kills the pool process that runs it, every time, and
waits until RabbitMQ stops delivering it: after SCRAPER_DELIVERY_LIMIT deliveries more, the
quorum queue moves it to "<queue>.dead". Both list what waits there, and leave it there.
Run them with the step's variables (`eval "$(make -s env STEP=step03)"`).
"""

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--send-poison", action="store_true", help="send the task `poison` first")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for it")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")

    import django

    django.setup()
    from django.conf import settings

    from step03_django_rabbitmq.articles.tasks import poison

    app, dead = poison.app, settings.DEAD_LETTER_QUEUE
    if not settings.CELERY_BROKER_URL.startswith("amqp"):
        raise SystemExit("Dead letters are RabbitMQ's: this step runs on another broker.")
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        if args.send_poison:
            before = waiting(channel, dead)
            sent = poison.delay()
            print(f"sent poison {sent.id}: it kills its pool process each time it runs")
            began = time.monotonic()
            while waiting(channel, dead) == before:
                if time.monotonic() - began > args.timeout:
                    raise SystemExit(f"not in {dead} after {args.timeout:g} s: is the worker up?")
                time.sleep(0.5)
            print(f"dead-lettered after {time.monotonic() - began:.1f} s")
        show(channel, dead)


def waiting(channel, queue: str) -> int:
    """How many messages `queue` holds (declared by the worker when it started)."""
    return channel.queue_declare(queue, passive=True).message_count


def show(channel, queue: str) -> None:
    """Each message of `queue`: read without acknowledging, so that they all stay there."""
    print(f"{queue} holds {waiting(channel, queue)} message(s):")
    taken = []
    while (message := channel.basic_get(queue, no_ack=False)) is not None:
        taken.append(message.delivery_tag)
        headers = message.headers or {}
        death = (headers.get("x-death") or [{}])[0]
        print(
            f"  {headers.get('task', '?').rsplit('.', 1)[-1]} {headers.get('id')}"
            f"  reason: {headers.get('x-first-death-reason')}"
            f"  from queue {headers.get('x-first-death-queue')}  at {death.get('time')} UTC"
        )
    for tag in taken:  # back where they were, for the next reader
        channel.basic_reject(tag, requeue=True)


if __name__ == "__main__":
    main()
