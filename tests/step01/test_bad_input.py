"""The bad-input battery against step 1's app (in-process, the embedded default): generated
bodies, ids and methods; every answer a JSON 4xx with a message, never a 5xx."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings

from step01_flask_celery.app import create_app
from tests.support.bad_input import BAD_BODIES, ODD_IDS, assert_json_4xx

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKSHOP_MODE", "embedded")
        patch.setenv("WORKSHOP_RUN_DIR", str(tmp_path_factory.mktemp("bad-input")))
        yield create_app().test_client()


@SETTINGS
@given(body=BAD_BODIES)
def test_a_bad_body_gets_a_json_400(client, body):
    answer = client.post("/api/process_data", data=body, content_type="application/json")
    assert_json_4xx(answer.status_code, answer.content_type, answer.get_data(as_text=True), {400})


@SETTINGS
@given(task_id=ODD_IDS)
def test_an_id_never_submitted_gets_a_json_404(client, task_id):
    answer = client.get(f"/api/tasks/{quote(task_id, safe='')}")
    assert_json_4xx(answer.status_code, answer.content_type, answer.get_data(as_text=True))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/api/process_data", "/api/tasks/x", "/health"])
def test_a_wrong_method_gets_a_json_405(client, method, path):
    answer = client.open(path, method=method)
    assert_json_4xx(answer.status_code, answer.content_type, answer.get_data(as_text=True), {405})
