"""URLs of step 3: the pages and the JSON API of `articles`, and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("step03_django_rabbitmq.articles.urls")),
]

# Errors as JSON under /api/, as pages elsewhere (articles/errors.py).
handler400 = "step03_django_rabbitmq.articles.errors.bad_request"
handler403 = "step03_django_rabbitmq.articles.errors.forbidden"
handler404 = "step03_django_rabbitmq.articles.errors.not_found"
handler500 = "step03_django_rabbitmq.articles.errors.server_error"
