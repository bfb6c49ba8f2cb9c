"""What Django's debug page may show. With DEBUG on, an error page lists every setting and the
request's headers and environment. Django hides the values whose names look secret (KEY, PASS,
TOKEN, ...), but a password inside a URL, as in CELERY_BROKER_URL or DATABASE_URL, has a name
that looks harmless. HideSecrets hides those passwords too; ShortForSuspicious keeps the whole
page from requests that are the sender's fault (settings.py names both)."""

import re

from django.core.exceptions import SuspiciousOperation
from django.utils.html import escape
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# scheme://user:password@host -> scheme://user:********@host
PASSWORD_IN_URL = re.compile(r"(?P<start>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.I)


class HideSecrets(SafeExceptionReporterFilter):
    def hide_passwords(self, value):
        if isinstance(value, str):
            return PASSWORD_IN_URL.sub(rf"\g<start>{self.cleansed_substitute}@", value)
        return value

    def cleanse_setting(self, key, value):
        """Each setting, and each header or variable of the request's environment."""
        return self.hide_passwords(super().cleanse_setting(key, value))

    def get_traceback_frame_variables(self, request, tb_frame):
        """The local variables of each frame of the traceback."""
        found = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.hide_passwords(value)) for name, value in found]


class ShortForSuspicious(ExceptionReporter):
    """A request Django finds suspicious (a Host header not in ALLOWED_HOSTS, a form over its
    size limit) is the sender's doing, not a bug of yours: with DEBUG on, Django would still
    answer it with the whole debug page, settings included. This answers its message alone,
    which says what to change ("You may need to add 'x' to ALLOWED_HOSTS")."""

    def get_traceback_html(self):
        if self.is_suspicious():
            return f"<!doctype html><title>Bad request</title><p>{escape(self.exc_value)}</p>"
        return super().get_traceback_html()

    def get_traceback_text(self):
        if self.is_suspicious():
            return f"Bad request: {self.exc_value}\n"
        return super().get_traceback_text()

    def is_suspicious(self) -> bool:
        return isinstance(self.exc_value, SuspiciousOperation)
