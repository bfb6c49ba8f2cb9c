"""`make faults` (python -m workshop faults [--step stepNN]): break a step under load, count
what was lost. Step 2 by default: workshop/faults/tasks.py; steps 3 and 4, where the chords
live: workshop/faults/workflows.py. Each starts a stack of its own and leaves nothing behind.

Exit status 1 when something accepted was lost (or, for steps 3 and 4, failed or stranded), a
request failed in a way the scenario does not excuse, or the stack did not come back; 2 when a
server or a program is missing.
"""

from __future__ import annotations

from rich.console import Console

from workshop.faults import tasks, workflows
from workshop.registry import Step

COLUMNS = tasks.COLUMNS  # step 2's table, as its test reads it


def faults(step: Step, console: Console) -> int:
    if step.name in workflows.KINDS:
        return workflows.faults(step, console)
    if step.history:
        return tasks.faults(step, console)
    console.print(f"✗ make faults knows steps 2, 3 and 4, not {step.name}.")
    return 2
