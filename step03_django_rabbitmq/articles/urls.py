from django.urls import path, re_path

from . import api, views

urlpatterns = [
    path("", views.article_list, name="article-list"),
    path("articles/<int:pk>/", views.article_detail, name="article-detail"),
    path("scrape/", views.start, name="start-scrape"),
    path("tasks/", views.dashboard, name="dashboard"),
    path("api/scrape", api.scrape, name="api-scrape"),
    path("api/tasks/<str:task_id>", api.task, name="api-task"),
    path("api/articles", api.articles, name="api-articles"),
    path("api/schedule", api.schedule, name="api-schedule"),
    path("health", api.health, name="health"),
    # Anything else under /api/ is a JSON 404, with DEBUG on too.
    re_path(r"^api/", api.not_found),
]
