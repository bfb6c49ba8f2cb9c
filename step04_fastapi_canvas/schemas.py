"""The shapes of the API's answers, for the OpenAPI schema (/docs, /openapi.json)."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class Error(BaseModel):
    detail: str | list = Field(description="What is wrong, in words (a list for a 422).")


class TaskState(BaseModel):
    task_id: str
    state: str = Field(description="PENDING, STARTED, PROGRESS, SUCCESS, FAILURE or REVOKED.")
    result: Any = Field(None, description="The task's return value, once SUCCESS.")
    error: str | None = Field(None, description="Why it failed, once FAILURE or REVOKED.")
    progress: dict | None = Field(None, description="{done, total} while PROGRESS.")


class GroupState(BaseModel):
    group_id: str
    state: str
    completed: int
    total: int
    tasks: list[TaskState]
    results: list | None = Field(None, description="Every task's result, once SUCCESS.")
    error: str | None = Field(None, description="The first failed task's error.")


class Server(BaseModel):
    url: str = Field(description="Its URL, the password masked.")
    embedded: bool = Field(description="The embedded default: files, no server.")
    reachable: bool = Field(description="It answered just now.")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    embedded: bool = Field(description="A server is replaced by the embedded default.")
    broker: Server
    result_backend: Server
    task_delay_scale: float = Field(description="The tasks' durations times this.")


def errors(*codes: int) -> dict:
    """OpenAPI `responses` for these error codes."""
    described = {
        400: "The request could not be read.",
        404: "No such id was ever submitted here (or it expired).",
        409: "Too late: the task already finished.",
        503: "The broker or the result backend does not answer.",
    }
    return {code: {"model": Error, "description": described[code]} for code in codes}
