"""What the scraper stores: articles, and each scrape that was asked for."""

import uuid

from django.db import models


class Article(models.Model):
    # Unique: scraping the same page again updates its row, never adds a second one.
    url = models.URLField(max_length=500, unique=True)
    title = models.CharField(max_length=300)
    author = models.CharField(max_length=200, blank=True)
    published = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)
    source = models.URLField(max_length=500, help_text="The feed or index page it was found on.")
    first_seen = models.DateTimeField(auto_now_add=True)
    last_scraped = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published", "-id"]

    def __str__(self) -> str:
        return self.title


class Scrape(models.Model):
    """One scrape, asked for from the page, the API or the schedule (Celery beat). Its id is
    also the id of the task that runs it: the row first, the task once the row is committed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.URLField(max_length=500)
    requested_at = models.DateTimeField(auto_now_add=True)
    scheduled = models.BooleanField(default=False, help_text="Started by Celery beat.")
    # Filled by the tasks as they go.
    found = models.PositiveIntegerField(null=True, blank=True, help_text="Article links read.")
    group_id = models.CharField(max_length=255, blank=True, help_text="The chord's fetches.")
    summary_task_id = models.CharField(max_length=255, blank=True, help_text="Its callback.")
    created = models.PositiveIntegerField(null=True, blank=True)
    updated = models.PositiveIntegerField(null=True, blank=True)
    failed = models.PositiveIntegerField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)  # [{"url": ..., "error": ...}]
    error = models.TextField(blank=True, help_text="Why the scrape itself failed.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.source} at {self.requested_at:%Y-%m-%d %H:%M:%S}"

    def counts(self) -> dict:
        return {"created": self.created, "updated": self.updated, "failed": self.failed}
