"""The admin: articles and scrapes. django_celery_results adds its own TaskResult pages."""

from django.contrib import admin

from .models import Article, Scrape


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "published", "last_scraped"]
    search_fields = ["title", "author", "summary"]
    date_hierarchy = "published"


@admin.register(Scrape)
class ScrapeAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "requested_at", "found", "created", "updated", "failed"]
    readonly_fields = [field.name for field in Scrape._meta.fields]
