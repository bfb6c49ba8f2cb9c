"""Error answers: JSON under /api/ (and /health), Django's plain pages elsewhere.
Never a traceback: DEBUG is off unless `make step03` turns it on for development."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults

log = logging.getLogger(__name__)


# What the JSON errors say, from the handlers below or from JsonErrors.
MESSAGES = {
    400: "Bad request (a Host header that is not in ALLOWED_HOSTS is one).",
    403: "Forbidden.",
    404: "Nothing here.",
    500: "Internal error: the server log says more.",
    503: "The database is not reachable right now: try again in a moment.",
}


def wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/health"))


def bad_request(request, exception):
    if wants_json(request):
        return JsonResponse({"error": MESSAGES[400]}, status=400)
    return defaults.bad_request(request, exception)


def forbidden(request, exception):
    if wants_json(request):
        return JsonResponse({"error": MESSAGES[403]}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception):
    if wants_json(request):
        return JsonResponse({"error": f"Nothing at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if wants_json(request):
        return JsonResponse({"error": MESSAGES[500]}, status=500)
    return defaults.server_error(request)


class JsonErrors:
    """Under /api/ and /health, every error is JSON, with DEBUG on too: Django's own pages (the
    debug page of a refused Host header, the CSRF 403, a 404 with DEBUG on) are for browsers.
    An unexpected exception is a JSON 500; its traceback goes to the log, never into the answer.
    First in MIDDLEWARE, so that it sees what every other middleware answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        answer = self.get_response(request)
        json = answer.get("Content-Type", "").startswith("application/json")
        if answer.status_code < 400 or json or not wants_json(request):
            return answer
        replaced = JsonResponse({"error": MESSAGES.get(answer.status_code, answer.reason_phrase)})
        replaced.status_code = answer.status_code
        if "Allow" in answer:
            replaced["Allow"] = answer["Allow"]
        return replaced

    def process_exception(self, request, exception):
        if not wants_json(request):
            return None
        if isinstance(exception, OperationalError | InterfaceError):
            # The database is away (restarting, unreachable): nothing is wrong with the
            # request, and the same request may work in a moment. Django opens a new
            # connection for the next one.
            log.warning("%s %s: the database is away: %s", request.method, request.path, exception)
            return JsonResponse({"error": MESSAGES[503]}, status=503, headers={"Retry-After": "2"})
        log.exception("%s %s failed", request.method, request.path)
        return JsonResponse({"error": MESSAGES[500]}, status=500)
