"""Step 4: FastAPI + Celery canvas (solo, chain, group, chord) with a live canvas page.

`make step04` starts it; README.md is the lesson.
"""
