"""The pages: the articles (search, pages of 20), one article, the scrape button, and the task
dashboard. Server-rendered templates; every asset is served by this site."""

from __future__ import annotations

import json

from celery import states
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe
from django_celery_results.models import TaskResult

from . import sources
from .api import search
from .models import Article, Scrape
from .publish import BrokerUnavailable, start_scrape


class ScrapeForm(forms.Form):
    source = forms.CharField()

    def clean_source(self) -> str:
        return sources.check(self.cleaned_data["source"])


@require_safe  # GET and HEAD; another method gets a 405
def article_list(request):
    query = request.GET.get("q", "")
    page = Paginator(search(query), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "articles/article_list.html",
        {"page": page, "query": query, "sources": sources.allowed()},
    )


@require_safe  # GET and HEAD; another method gets a 405
def article_detail(request, pk: int):
    article = get_object_or_404(Article, pk=pk)
    return render(request, "articles/article_detail.html", {"article": article})


@require_POST
def start(request):
    form = ScrapeForm(request.POST)
    if not form.is_valid():
        for problem in form.errors.get("source", ["Choose a source."]):
            messages.error(request, problem)
        return redirect("article-list")
    try:
        run = start_scrape(form.cleaned_data["source"])
    except BrokerUnavailable as problem:
        messages.error(request, f"The broker is not reachable, nothing was started: {problem}")
        return redirect("article-list")
    messages.success(request, f"Scrape {str(run.pk)[:8]}… started: watch it below.")
    return redirect("dashboard")


@require_safe  # GET and HEAD; another method gets a 405
def dashboard(request):
    tasks = list(TaskResult.objects.order_by("-date_created")[:50])
    for task in tasks:
        task.short_name = (task.task_name or "?").rsplit(".", 1)[-1]
        if task.date_started and task.date_done:
            task.seconds = (task.date_done - task.date_started).total_seconds()
        task.summary, task.error = describe(task)
    scrapes = list(Scrape.objects.all()[:10])
    counts = TaskResult.objects.values("status").annotate(n=Count("id")).order_by("status")
    return render(
        request,
        "articles/dashboard.html",
        {
            "scrapes": scrapes,
            "tasks": tasks,
            "counts": counts,
            "running": any(run.finished_at is None for run in scrapes),
        },
    )


def describe(task: TaskResult) -> tuple[str, str]:
    """(what it did, what went wrong) in a few words, from the stored JSON result."""
    try:
        value = json.loads(task.result) if task.result else None
    except ValueError:
        return "", ""
    if not isinstance(value, dict):
        return "", ""
    if task.status == states.FAILURE:
        message = value.get("exc_message") or ""
        message = " ".join(map(str, message)) if isinstance(message, list) else str(message)
        return "", f"{value.get('exc_type', 'Error')}: {message}"
    if "outcome" in value:  # fetch_article: created, updated or failed (a broken page)
        return f"{value['outcome']}: {value['url']}", value.get("error", "")
    if "created" in value:  # summarize
        return (
            f"created {value['created']} · updated {value['updated']} · failed {value['failed']}",
            "",
        )
    if "found" in value:  # scrape
        return f"{value['found']} article links", ""
    return "", ""
