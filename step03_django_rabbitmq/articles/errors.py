"""Error answers: JSON under /api/ (and /health), Django's plain pages elsewhere.
Never a traceback: DEBUG is off unless `make step03` turns it on for development."""

import logging

from django.http import JsonResponse
from django.views import defaults

log = logging.getLogger(__name__)


def wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/health"))


def bad_request(request, exception):
    if wants_json(request):
        return JsonResponse({"error": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def forbidden(request, exception):
    if wants_json(request):
        return JsonResponse({"error": "Forbidden."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception):
    if wants_json(request):
        return JsonResponse({"error": f"Nothing at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if wants_json(request):
        return JsonResponse({"error": "Internal error: the server log says more."}, status=500)
    return defaults.server_error(request)


class JsonErrors:
    """Under /api/, an unexpected exception is a JSON 500, with DEBUG on too (Django's debug
    page is for the browser). The traceback goes to the log, never into the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not wants_json(request):
            return None
        log.exception("%s %s failed", request.method, request.path)
        return JsonResponse({"error": "Internal error: the server log says more."}, status=500)
