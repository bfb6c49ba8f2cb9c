"""`make faults`: step 2 broken five ways under load, and no accepted task lost.

The command starts a stack of its own (free ports, its own queue, database and run folder, its
broker and results behind relays it cuts), so this test needs no fixture of the folder: it runs
the command as a learner would and reads the table it prints."""

from __future__ import annotations

import pytest

from tests.support.commands import workshop
from workshop.environment import env_with_venv
from workshop.tools.faults import COLUMNS

pytestmark = pytest.mark.needs("rabbitmq", "redis", "postgresql", "nginx")


def rows(table: str) -> dict[str, dict[str, str]]:
    """The table's rows by scenario number: {"1": {"accepted": "17", ...}}."""
    found = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0][:2] in {f"{n}." for n in range(1, 10)}:
            found[cells[0][0]] = dict(zip(COLUMNS, cells, strict=True))
    return found


@pytest.mark.timeout(240)
def test_five_faults_under_load_lose_no_accepted_task(tmp_path):
    env = env_with_venv({"WORKSHOP_RUN_DIR": str(tmp_path), "COLUMNS": "200"})
    done = workshop("faults", env=env, timeout=200)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]

    table = rows(done.stdout)
    assert list(table) == ["1", "2", "3", "4", "5"], done.stdout
    for row in table.values():
        assert int(row["accepted"]) > 0 and row["lost"] == "0", row
        assert row["finished"] == row["accepted"], row
    # The outages happened: requests got quick JSON 503s while RabbitMQ or Redis was away.
    assert table["3"]["503 (slowest)"] != "0" != table["4"]["503 (slowest)"], done.stdout
    assert "recovery: seconds from the end of a fault" in done.stdout
    # Stopped like Ctrl-C, nothing killed; its run folder is gone (its logs too, on success).
    assert "Stopped in" in done.stdout and "had to be killed" not in done.stdout
    assert not list(tmp_path.glob("faults-*"))
