"""The demo blog: an index page, an RSS feed, one page per article, and three broken pages.

    GET /            the index: every article in an <article> element
    GET /feed.xml    RSS 2.0, every article (broken ones included); ?limit=N: the N newest
    GET /posts/<slug>/
    GET /health

The broken pages (posts.toml, [[broken]]): `404` is gone; `500-twice` answers 500 twice, then
the page, again and again (so every scrape sees two failures before it succeeds); `no-title`
is a page without any title.
"""

import datetime
import itertools
import threading
import tomllib
from email.utils import format_datetime
from pathlib import Path

from flask import Flask, Response, abort, render_template, request

HERE = Path(__file__).resolve().parent

with (HERE / "posts.toml").open("rb") as file:
    DATA = tomllib.load(file)
POSTS = {post["slug"]: post for post in DATA["post"]}
BROKEN = {post["slug"]: post for post in DATA["broken"]}
EVERYTHING = sorted([*POSTS.values(), *BROKEN.values()], key=lambda p: p["date"], reverse=True)

app = Flask(__name__)

# One count per broken page, shared by the server's threads: fail, fail, succeed, repeat.
_tries: dict[str, itertools.count] = {}
_lock = threading.Lock()


def busy(slug: str) -> bool:
    with _lock:
        number = next(_tries.setdefault(slug, itertools.count()))
    return number % 3 != 2


@app.template_filter("rfc822")
def rfc822(text: str) -> str:
    return format_datetime(datetime.datetime.fromisoformat(text))


@app.get("/")
def index():
    return render_template("index.html", posts=EVERYTHING)


@app.get("/feed.xml")
def feed():
    # ?limit=N: the N newest only, for a short scrape (the fault tests scrape 5).
    limit = request.args.get("limit", type=int)
    xml = render_template("feed.xml", posts=EVERYTHING[:limit] if limit else EVERYTHING)
    return Response(xml, mimetype="application/rss+xml")


@app.get("/posts/<slug>/")
def post(slug: str):
    if slug in POSTS:
        return render_template("post.html", post=POSTS[slug])
    broken = BROKEN.get(slug)
    if broken is None or broken["problem"] == "404":
        abort(404)
    if broken["problem"] == "500-twice" and busy(slug):
        return "The server is busy, try again.", 500
    if broken["problem"] == "no-title":
        return render_template("untitled.html", post=broken)
    return render_template("post.html", post=broken)


@app.get("/health")
def health():
    return {"status": "ok", "articles": len(POSTS)}
