"""What eager mode (task_always_eager) lets through. It runs a task at once, in the test's own
thread: no message is sent, so no queue is chosen and no worker has to take it, and a chain, a
group or a chord is never turned into JSON. Each pair shows eager mode passing where the real
path fails."""

from fractions import Fraction

import celery.exceptions
import pytest
from celery import chain
from kombu.exceptions import EncodeError

from step04_fastapi_canvas.tasks.arithmetic import add, multiply, sum_multiply


@pytest.fixture
def eager(celery_app, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def celery_worker_parameters(celery_app):
    # A worker started with `-Q default` alone: nothing takes what goes to default-sum.
    return {"queues": [celery_app.conf.task_default_queue]}


def chain_of_fractions():
    return chain(multiply.s(Fraction(1, 2), 3), sum_multiply.s(1, 2))


def test_eagerly_a_chain_of_fractions_runs(eager):
    assert chain_of_fractions().apply_async().get() == [Fraction(3, 2), Fraction(3)]


def test_for_real_a_chain_of_fractions_cannot_be_sent(celery_app):
    with pytest.raises(EncodeError, match="Fraction is not JSON serializable"):
        chain_of_fractions().apply_async()


def test_even_eagerly_one_task_turns_its_arguments_into_json(eager):
    with pytest.raises(EncodeError, match="Fraction is not JSON serializable"):
        multiply.delay(Fraction(1, 2), 3)


def test_eagerly_add_runs_with_no_worker_on_its_queue(eager):
    assert add.delay(3, 4).get() == 7


def test_for_real_add_waits_for_a_worker_on_its_queue(celery_worker):
    assert multiply.delay(3, 4).get(timeout=10) == 12  # the worker takes the default queue
    waiting = add.delay(3, 4)
    with pytest.raises(celery.exceptions.TimeoutError):
        waiting.get(timeout=1)
    assert waiting.state == "PENDING"  # in default-sum, where no worker looks
