"""How a scrape starts (from a view, or from the schedule): a row first, the task once that
row is committed."""

from django.db import transaction
from kombu.exceptions import OperationalError

from .models import Scrape
from .tasks import record_failure, scrape


class BrokerUnavailable(Exception):
    """The task could not be published: nothing was started."""


def start_scrape(source: str, scheduled: bool = False) -> Scrape:
    """Create the Scrape row and publish its task with the row's id as the task id.

    apply_async_on_commit publishes through transaction.on_commit, after the COMMIT: a worker
    that picks the task at once finds the row. Like delay_on_commit it returns no task id,
    so the id is chosen first, as the row's primary key, and the API answers with it.
    """
    try:
        with transaction.atomic():
            run = Scrape.objects.create(source=source, scheduled=scheduled)
            scrape.apply_async_on_commit(
                (str(run.pk),),
                task_id=str(run.pk),
                # If the scrape fails (its source is gone...), the row says so.
                link_error=record_failure.s(str(run.pk)),
            )
    except (OperationalError, OSError) as error:  # the publish failed, after the COMMIT
        Scrape.objects.filter(pk=run.pk).delete()  # not started: leave no trace that says so
        raise BrokerUnavailable(str(error)) from error
    return run
