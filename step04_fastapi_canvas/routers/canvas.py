"""The live canvas page: pick a workflow, submit it, watch its graph change state."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["canvas"])
STATIC = Path(__file__).resolve().parent.parent / "static"


@router.get("/canvas", response_class=FileResponse, include_in_schema=False)
def canvas() -> FileResponse:
    return FileResponse(STATIC / "canvas.html")
