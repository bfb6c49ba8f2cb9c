"""Follow the log files of a step's programs in the terminal, printed by honcho's own printer:
the same time, coloured name and `|` as step 1's honcho, for programs supervisord runs."""

from __future__ import annotations

import datetime
import sys
import threading
from pathlib import Path

from honcho.colour import get_colours
from honcho.printer import Message, Printer


class Follow(threading.Thread):
    def __init__(self, files: dict[str, Path], output=sys.stdout, interval: float = 0.2):
        super().__init__(daemon=True)
        self.files = files
        self.printer = Printer(output, width=max(len(name) for name in files))
        colours = get_colours()
        self.colours = {name: next(colours) for name in files}
        self.offsets = dict.fromkeys(files, 0)
        self.interval = interval
        self.stopped = threading.Event()
        self.lock = threading.Lock()  # poll() is also called from the launcher's thread

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.poll()
        self.poll()

    def poll(self) -> None:
        """Print every complete line written since the last poll."""
        with self.lock:
            for name, path in self.files.items():
                self._print_new_lines(name, path)

    def _print_new_lines(self, name: str, path: Path) -> None:
        try:
            with path.open("rb") as handle:
                if handle.seek(0, 2) < self.offsets[name]:
                    self.offsets[name] = 0  # a new file: rotated by supervisord, or a new run
                handle.seek(self.offsets[name])
                chunk = handle.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
        self.offsets[name] += len(complete)
        if complete:
            now = datetime.datetime.now()
            self.printer.write(Message("line", complete, now, name, self.colours[name]))

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
