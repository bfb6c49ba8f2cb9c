"""The pure parts of the tools: percentiles, what wrk's script writes, the faults' tally, and
the order of the room's addresses."""

import socket
from collections import Counter
from types import SimpleNamespace

import psutil
import pytest

from workshop.faults.core import Tally
from workshop.tools import room as room_tool
from workshop.tools.stress import percentiles, read_wrk_answers


def test_percentiles_of_a_hundred_values():
    p50, p95, p99, top = percentiles([float(n) for n in range(1, 101)])
    assert (p50, p95, p99, top) == pytest.approx((50.5, 95.05, 99.01, 100.0))
    assert percentiles([]) == (0.0, 0.0, 0.0, 0.0)
    assert percentiles([7.0]) == (7.0, 7.0, 7.0, 7.0)


def test_what_the_lua_script_writes_is_read_back():
    answers = read_wrk_answers(
        "202 3f1c 1796185447.100000\n"
        "503 - 1796185447.200000\n"
        "latency_us 1500 4000 9000 12000\n"
        "socket_errors 1 0 0 1 2\n"
    )
    assert [(s.status, s.task_id) for s in answers.sent] == [(202, "3f1c"), (503, None)]
    assert answers.sent[0].answered == pytest.approx(1796185447.1)
    assert answers.latency_ms == (1.5, 4.0, 9.0, 12.0)
    # A "status" socket error is a non-2xx answer, already counted by its status.
    assert answers.errors == Counter({"socket connect": 1, "socket timeout": 2})


def tally(outage: bool = False) -> Tally:
    found = Tally("3. RabbitMQ down 3 s", outage)
    found.accepted = {"a": 10.0, "b": 11.0, "c": 14.0}  # c: accepted after the fault
    found.faults = [12.0]  # the fault ended at 12.0
    found.ended = {"a": 12.5, "b": 13.0, "c": 14.5}
    return found


def test_recovery_is_the_later_of_accepting_again_and_draining():
    assert tally().recovery() == pytest.approx(2.0)  # c accepted at 14.0, b done at 13.0
    assert tally().ok() and tally().lost == []


def test_an_unfinished_task_is_lost_and_no_recovery():
    lost = tally()
    del lost.ended["b"]
    assert lost.lost == ["b"] and lost.recovery() is None and not lost.ok()


def test_a_503_is_excused_only_while_a_server_is_down():
    for outage, failures in ((True, 0), (False, 4)):
        found = tally(outage)
        found.requests.update({"503": 4})
        assert found.failures == failures and found.ok() is (failures == 0)


def test_a_workflow_that_started_and_never_ended_is_stranded_not_lost():
    stuck = tally()
    del stuck.ended["b"]
    stuck.stranded["b"] = "PROGRESS 22 of 23 fetched"
    assert stuck.lost == [] and stuck.finished == ["a", "c"] and not stuck.ok()


def test_a_workflow_that_failed_has_ended_but_is_not_ok():
    failed = tally()
    failed.errors["b"] = "ChordError: Join error"
    assert failed.lost == [] and failed.finished == ["a", "c"]
    assert failed.recovery() == pytest.approx(2.0) and not failed.ok()


def test_make_room_lists_the_addresses_with_a_device_first(tmp_path, monkeypatch):
    """docker0 (no device behind it) must not be the first command an instructor reads out."""
    for interface in ("docker0", "eth0", "wlan0"):
        (tmp_path / interface).mkdir()
    (tmp_path / "eth0" / "device").mkdir()
    (tmp_path / "wlan0" / "device").mkdir()
    table = {  # what psutil.net_if_addrs() gives, the two fields read
        name: [SimpleNamespace(family=socket.AF_INET, address=address)]
        for name, address in [
            ("docker0", "172.17.0.1"),
            ("eth0", "192.168.1.23"),
            ("lo", "127.0.0.1"),
            ("wlan0", "10.0.0.7"),
        ]
    }
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: table)
    assert room_tool.addresses(tmp_path) == [
        ("eth0", "192.168.1.23", False),
        ("wlan0", "10.0.0.7", False),
        ("docker0", "172.17.0.1", True),
    ]
    # Where there is no /sys (macOS), every interface counts as one with a device.
    assert not room_tool.virtual("docker0", tmp_path / "absent")
