"""Step 4's tasks, run the real way: published as JSON messages, routed to their queue, taken
by a worker, their results stored. celery_worker starts that worker for each test."""

import pytest
from celery import chain, chord

from step04_fastapi_canvas.tasks.arithmetic import (
    FailedOnPurpose,
    add,
    combine,
    multiply,
    sum_multiply,
)


def test_add_goes_to_the_sum_queue(celery_app, celery_worker):
    result = add.delay(3, 4)
    assert result.get(timeout=10) == 7
    # result_extended keeps where the message came from.
    assert result.queue == f"{celery_app.conf.task_default_queue}-sum"


def test_a_chain_feeds_each_result_to_the_next_link(celery_worker):
    result = chain(add.s(3, 4), sum_multiply.s(3, 4)).apply_async()
    assert result.get(timeout=10) == [21, 28]  # sum_multiply(7, 3, 4)


def test_a_chord_calls_combine_with_every_result(celery_worker):
    result = chord([add.s(3, 4), multiply.s(3, 4)], combine.s()).apply_async()
    assert result.get(timeout=10) == {"results": [7, 12], "total": 19}


def test_a_failed_link_fails_the_chain_with_its_error(celery_worker):
    result = chain(add.s(3, 4, fail=True), sum_multiply.s(3, 4)).apply_async()
    with pytest.raises(FailedOnPurpose, match="add failed on purpose"):
        result.get(timeout=10)
    assert result.state == "FAILURE"  # the link that never ran carries add's error
