"""`make notebooks-html`: run every notebook in notebooks/ top to bottom against the real
servers and write an HTML copy of each, outputs and plots included, under build/notebooks/.

The pages load nothing from the internet (images embedded, no CDN script): open them offline.
"""

from __future__ import annotations

import time

from rich.console import Console

from workshop import notebooks
from workshop.offline import remote_references
from workshop.settings import ROOT

OUT = ROOT / "build" / "notebooks"


def notebooks_html(console: Console, names: list[str] | None = None) -> int:
    from nbclient.exceptions import CellExecutionError

    OUT.mkdir(parents=True, exist_ok=True)
    paths = sorted(notebooks.NOTEBOOKS.glob("*.ipynb"))
    paths = [path for path in paths if not names or path.stem in names or path.name in names]
    failed = []
    for path in paths:
        began = time.monotonic()
        try:
            executed = notebooks.execute(path)
        except CellExecutionError as error:
            console.print(f"✗ {path.name}: a cell failed\n{error}", highlight=False)
            failed.append(path.name)
            continue
        html = notebooks.to_html(executed)
        remote = remote_references(html)
        if remote:
            console.print(f"✗ {path.name}: its page would load from the internet: {remote}")
            failed.append(path.name)
            continue
        page = OUT / f"{path.stem}.html"
        page.write_text(html)
        took = time.monotonic() - began
        where = page.relative_to(ROOT)
        console.print(f"✓ {path.name} ran in {took:.0f} s → {where}", highlight=False)
    if failed:
        console.print(f"{len(failed)} of {len(paths)} notebooks failed: {', '.join(failed)}")
        return 1
    console.print(f"Open {OUT.relative_to(ROOT)}/ in a browser: the pages need no network.")
    return 0
