"""The result backend of this project: django-celery-results' database backend, made to survive a
database that is away for a moment and a task delivered twice (README, "When a server blinks").

A worker writes a task's result, and counts a chord's finished header task, AFTER the task's
body has run. If the database is restarting right then, the write fails, the message is
acknowledged all the same, and a chord whose counter missed a task never calls its callback.

- Celery tries a backend's reads and writes again when CELERY_RESULT_BACKEND_ALWAYS_RETRY is on
  and the backend says the error is safe to retry. django-celery-results 2.6 says so only of
  an InterfaceError (a connection already closed). A restarted PostgreSQL raises
  OperationalError ("terminating connection due to administrator command", "the database
  system is shutting down", "Connection refused"): that one too, here.
- django-celery-results decrements its ChordCounter once per DELIVERY of a header task. With
  late acks a task runs twice when its acknowledgement was lost (RabbitMQ away for a moment:
  "cannot be acknowledged after a connection loss"): the counter reaches 0 one task early, the
  callback is not called, and the last task finds no counter (django-celery-results#397).
  Here the counter counts the header tasks whose results are stored as ready: a task counted
  twice is counted once, and a try that failed can simply be tried again.

project/celery.py puts it in the place of `django-db` (CELERY_RESULT_BACKEND in settings.py).
"""

from celery import current_task, maybe_signature, states
from django.db import InterfaceError, OperationalError, connection, router, transaction
from django_celery_results.backends.database import DatabaseBackend, trigger_callback
from django_celery_results.models import ChordCounter


class WaitingDatabaseBackend(DatabaseBackend):
    def exception_safe_to_retry(self, exc: Exception) -> bool:
        # Only inside a task, in the worker: a web request answers 503 at once instead, and
        # the client asks again later.
        if not current_task or not isinstance(exc, OperationalError | InterfaceError):
            return super().exception_safe_to_retry(exc)
        connection.close()  # the next try opens a new connection
        return True

    def _store_result(self, task_id, result, status, traceback=None, request=None, **kwargs):
        # As Celery's own Redis backend does: a task that succeeded stays SUCCESS. While the
        # database is away, a write may wait longer than the work: the RETRY of a try whose
        # next try has already succeeded would land last, and the chord would never see all
        # its fetches ready. (STARTED is not checked: it comes before a try's own end, and
        # every task writes it; one query less per task.)
        if status not in (states.SUCCESS, states.STARTED):
            done = self.TaskModel._default_manager.filter(task_id=task_id, status=states.SUCCESS)
            if done.exists():
                return result
        return super()._store_result(task_id, result, status, traceback, request, **kwargs)

    def on_chord_part_return(self, request, state, result, **kwargs):
        if request.group and request.id:
            self._ensure_retryable(self._count, request)

    def _count(self, request) -> None:
        """Count the chord's header tasks whose results are ready (this one's was stored just
        before); the one that finds them all calls the callback. The counter's row is locked
        meanwhile: two tasks ending together count one after the other."""
        with transaction.atomic(using=router.db_for_write(ChordCounter)):
            counter = ChordCounter.objects.select_for_update().filter(group_id=request.group)
            counter = counter.first()
            if counter is None:  # counted already, and its callback called: delivered again
                return
            header = counter.group_result(app=self.app)
            ids = [child.id for child in header.results]
            ready = self.TaskModel._default_manager.filter(
                task_id__in=ids, status__in=states.READY_STATES
            )
            counter.count = len(ids) - ready.count()  # what the API's progress reads
            if counter.count:
                counter.save(update_fields=["count"])
                return
            counter.delete()
        callback = maybe_signature(request.chord, app=self.app)
        trigger_callback(app=self.app, callback=callback, group_result=header)
