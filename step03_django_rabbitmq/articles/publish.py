"""How a view starts a scrape: a row first, the task once that row is committed."""

from django.db import transaction
from kombu.exceptions import OperationalError

from .models import Scrape
from .tasks import scrape


class BrokerUnavailable(Exception):
    """The task could not be published: nothing was started."""


def start_scrape(source: str) -> Scrape:
    """Create the Scrape row and publish its task with the row's id as the task id.

    transaction.on_commit runs the publish after the COMMIT: a worker that picks the task at
    once finds the row. (`scrape.delay_on_commit()` does the same, but returns no task id:
    here the id is chosen first, as the row's primary key, so the API can answer with it.)
    """
    try:
        with transaction.atomic():
            run = Scrape.objects.create(source=source)
            transaction.on_commit(lambda: scrape.apply_async((str(run.pk),), task_id=str(run.pk)))
    except (OperationalError, OSError) as error:  # the publish failed, after the COMMIT
        Scrape.objects.filter(pk=run.pk).delete()  # not started: leave no trace that says so
        raise BrokerUnavailable(str(error)) from error
    return run
