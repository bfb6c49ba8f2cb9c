"""Follow several log files and print their new lines with a coloured prefix, as honcho does."""

from __future__ import annotations

import threading
from pathlib import Path

from rich.console import Console
from rich.text import Text

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta"]


class Tail(threading.Thread):
    def __init__(self, files: dict[str, Path], console: Console, interval: float = 0.2):
        super().__init__(daemon=True)
        self.files = files
        self.console = console
        self.interval = interval
        self.stopped = threading.Event()
        self.offsets = {name: 0 for name in files}
        width = max(len(name) for name in files)
        self.prefixes = {
            name: Text(f"{name:<{width}} | ", style=COLOURS[i % len(COLOURS)])
            for i, name in enumerate(files)
        }

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.poll()
        self.poll()

    def poll(self) -> None:
        for name, path in self.files.items():
            try:
                with path.open("rb") as handle:
                    handle.seek(self.offsets[name])
                    chunk = handle.read()
            except FileNotFoundError:
                continue
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self.offsets[name] += len(complete)
            for line in complete.decode(errors="replace").splitlines():
                self.console.print(self.prefixes[name] + Text(line), soft_wrap=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
