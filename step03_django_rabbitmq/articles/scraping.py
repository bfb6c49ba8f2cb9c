"""Reading a blog: its feed (or index page), then each article page. No Django, no Celery here:
tasks.py decides what to do with the errors, and the tests call these functions directly.

Two kinds of error, because they need opposite answers:
- TransientError: the network failed, or the server answered 5xx or 429. Trying again later
  may work, so the task retries with backoff.
- PageError: 4xx, or a page we cannot read. Trying again gives the same answer: it fails now.
"""

from __future__ import annotations

import calendar
import datetime
import io
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx
from bs4 import BeautifulSoup

MAX_BYTES = 5 * 1024 * 1024  # a feed or a page bigger than this is not a blog page
MAX_LINKS = 200  # articles read from one source, at most
MAX_URL = 500  # characters: Article.url's column
MAX_REDIRECTS = 5


class TransientError(Exception):
    """Worth another try later: a network error, a timeout, a 5xx or a 429 answer."""


class PageError(Exception):
    """Not worth another try: a 4xx answer, or a page without what an article needs."""


@dataclass(frozen=True)
class Link:
    """An article found on a source, with what the feed already says about it."""

    url: str
    hints: dict = field(default_factory=dict)  # title, author, published, summary


def client(user_agent: str, timeout: float) -> httpx.Client:
    """Polite: it says who it is, and each phase of a request (connect, send, every read)
    waits `timeout` seconds at most; the task's time limit bounds the whole."""
    return httpx.Client(
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # download() follows them, on the same site only
    )


@dataclass(frozen=True)
class Page:
    """A downloaded page: where it ended up (after redirects), its type and its bytes."""

    url: str
    content_type: str
    content: bytes
    encoding: str

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")


def download(http: httpx.Client, url: str) -> Page:
    """GET `url`; TransientError or PageError when it cannot give a usable page.

    Redirects are followed (5 at most) only on the same site: an allowed source must not send
    the scraper to another host, such as a server inside the network."""
    site = urlsplit(url).netloc
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with http.stream("GET", url) as response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("location", ""))
                    if urlsplit(target).netloc != site:
                        raise PageError(f"{url} redirects to another site: {target[:200]}")
                    url = target
                    continue
                return read_page(response, url)
        except httpx.TransportError as error:  # connection refused, timeouts, reset...
            raise TransientError(f"{type(error).__name__} at {url}: {error}") from None
    raise PageError(f"more than {MAX_REDIRECTS} redirects at {url}")


def read_page(response: httpx.Response, url: str) -> Page:
    status = response.status_code
    if status >= 500 or status == 429:
        raise TransientError(f"HTTP {status} {response.reason_phrase} at {url}")
    if status >= 400:
        raise PageError(f"HTTP {status} {response.reason_phrase} at {url}")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_BYTES:
            raise PageError(f"{url} is bigger than {MAX_BYTES // 1024 // 1024} MB")
    return Page(
        url=url,
        content_type=response.headers.get("content-type", ""),
        content=bytes(body),
        encoding=response.charset_encoding or "utf-8",
    )


def read_source(http: httpx.Client, source: str) -> list[Link]:
    """The article links of a feed (RSS or Atom) or of an HTML index page, on the source's site."""
    page = download(http, source)
    # A file-like object: given bytes, feedparser would first try them as a file name.
    feed = feedparser.parse(io.BytesIO(page.content))
    if feed.entries:
        links = [Link(entry.get("link", ""), feed_hints(entry)) for entry in feed.entries]
    elif "html" in page.content_type:
        links = index_links(page.text, page.url)
    else:
        raise PageError(f"{source} is neither a feed nor an HTML page")
    site = urlsplit(source).netloc  # the allowed source's site, whatever the page links to
    found: dict[str, Link] = {}
    for link in links:
        url = urljoin(page.url, link.url)
        # Only the source's own site: a feed does not send the scraper anywhere else.
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc == site and len(url) <= MAX_URL:
            found.setdefault(url, Link(url, link.hints))
    if not found:
        raise PageError(f"no article links in {source}")
    return list(found.values())[:MAX_LINKS]


def feed_hints(entry) -> dict:
    """What a feed entry says about its article (JSON-friendly: it travels in a task message)."""
    hints = {
        "title": entry.get("title", ""),
        "author": entry.get("author", ""),
        "summary": text_of(entry.get("summary", "")),
    }
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    if when:  # feedparser gives UTC as a time.struct_time
        moment = datetime.datetime.fromtimestamp(calendar.timegm(when), datetime.UTC)
        hints["published"] = moment.isoformat()
    return {name: value for name, value in hints.items() if value}


def index_links(html: str, base: str) -> list[Link]:
    """Links to articles on an index page: inside <article>, or marked rel="bookmark"."""
    page = BeautifulSoup(html, "html.parser")
    anchors = page.select("article a[href]") or page.select('a[rel~="bookmark"][href]')
    return [Link(urljoin(base, a["href"])) for a in anchors]


def text_of(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def meta(page: BeautifulSoup, *names: str) -> str:
    """The content of the first <meta name=...> or <meta property=...> among `names`."""
    for name in names:
        tag = page.find("meta", attrs={"name": name}) or page.find("meta", property=name)
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return ""


def parse_date(text: str) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def parse_article(url: str, html: str, hints: dict | None = None) -> dict:
    """Title, author, publication date and summary of an article page. The page is the truth;
    the feed's hints fill what it leaves out. A page without a title is a PageError."""
    hints = hints or {}
    # PostgreSQL text cannot hold NUL: a page with one must not fail the store.
    page = BeautifulSoup(html.replace("\x00", ""), "html.parser")
    heading = page.find("h1")
    title = (
        meta(page, "og:title")
        or (heading.get_text(" ", strip=True) if heading else "")
        or (page.title.get_text(strip=True) if page.title else "")
    )
    if not title:
        raise PageError(f"no title in {url}: no og:title, <h1> or <title>")
    time_tag = page.find("time", datetime=True)
    published = (
        meta(page, "article:published_time")
        or (time_tag["datetime"] if time_tag else "")
        or hints.get("published", "")
    )
    first_paragraph = page.select_one("article p") or page.find("p")
    summary = (
        meta(page, "description", "og:description")
        or hints.get("summary", "")
        or (first_paragraph.get_text(" ", strip=True) if first_paragraph else "")
    )
    author = meta(page, "author", "article:author") or hints.get("author", "")
    return {
        "title": " ".join(title.split()).replace("\x00", "")[:300],
        "author": author.replace("\x00", "")[:200],
        "published": parse_date(published) if published else None,
        "summary": summary.replace("\x00", "")[:2000],
    }
