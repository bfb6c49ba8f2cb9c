"""Ctrl-C, `kill` and a closed terminal stop a launcher once, never half-way."""

from __future__ import annotations

import signal

import pytest

from workshop.launcher.processes import STOP_SIGNALS, signals_held, stop_on_signals


@pytest.fixture
def handlers():
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    stop_on_signals()
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_each_stop_signal_interrupts_once_then_the_stop_runs_to_its_end(handlers, sig):
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(sig)
    for again in STOP_SIGNALS:  # the learner presses Ctrl-C again, closes the terminal...
        signal.raise_signal(again)  # ...and nothing interrupts the stop


def test_a_signal_while_a_process_starts_takes_effect_once_it_is_known(handlers):
    started = []
    with pytest.raises(KeyboardInterrupt), signals_held():
        signal.raise_signal(signal.SIGTERM)
        started.append("pid known")  # the start went on to its end
    assert started == ["pid known"]
