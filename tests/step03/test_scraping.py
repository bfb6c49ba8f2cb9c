"""The scraper's reading and parsing, against the demo blog served in-process (no server,
no broker, no database): what counts as a transient error, a broken page, an article."""

from __future__ import annotations

import datetime

import httpx
import pytest

from step03_django_rabbitmq.articles import scraping
from step03_django_rabbitmq.demo_blog.app import BROKEN, POSTS, app

BLOG = "http://blog.test"


@pytest.fixture
def http():
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=BLOG, follow_redirects=True) as client:
        yield client


def test_the_feed_lists_every_article_with_what_it_knows(http):
    links = scraping.read_source(http, f"{BLOG}/feed.xml")
    assert len(links) == len(POSTS) + len(BROKEN) == 23
    first = {link.url: link for link in links}[f"{BLOG}/posts/chords/"]
    assert first.hints["author"] == "Tomás Ortega"
    assert first.hints["published"] == "2026-04-20T09:00:00+00:00"
    assert first.hints["title"] == "Chords: wait for a group, then combine"


def test_the_index_page_gives_the_same_links(http):
    from_index = scraping.read_source(http, f"{BLOG}/")
    from_feed = scraping.read_source(http, f"{BLOG}/feed.xml")
    assert {link.url for link in from_index} == {link.url for link in from_feed}


def test_an_article_page_gives_title_author_date_and_summary(http):
    page = scraping.download(http, f"{BLOG}/posts/late-acks/")
    fields = scraping.parse_article(page.url, page.text)
    assert fields == {
        "title": "Late acknowledgement, explained with one kill -9",
        "author": "Tomás Ortega",
        "published": datetime.datetime(2026, 2, 23, 9, tzinfo=datetime.UTC),
        "summary": POSTS["late-acks"]["summary"],
    }


def test_a_404_is_a_page_error_not_worth_a_retry(http):
    with pytest.raises(scraping.PageError, match="HTTP 404"):
        scraping.download(http, f"{BLOG}/posts/moved-away/")


def test_a_500_is_transient_and_the_busy_page_recovers_on_the_third_try(http):
    url = f"{BLOG}/posts/busy-server/"
    for _ in range(2):
        with pytest.raises(scraping.TransientError, match="HTTP 500"):
            scraping.download(http, url)
    assert "busy server" in scraping.download(http, url).text


def test_a_page_without_a_title_cannot_be_stored(http):
    page = scraping.download(http, f"{BLOG}/posts/no-title/")
    with pytest.raises(scraping.PageError, match="no title"):
        scraping.parse_article(page.url, page.text, {"title": "the feed's title is not enough"})


def test_the_feed_fills_what_the_page_leaves_out():
    html = "<html><body><h1>Only a heading</h1></body></html>"
    hints = {"author": "A. Feed", "published": "2026-01-02T03:04:05+00:00", "summary": "From it."}
    fields = scraping.parse_article("http://x.test/a", html, hints)
    assert fields["author"] == "A. Feed" and fields["summary"] == "From it."
    assert fields["published"] == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_a_refused_connection_is_transient():
    with httpx.Client(timeout=2) as http, pytest.raises(scraping.TransientError, match="Connect"):
        scraping.download(http, "http://127.0.0.1:9/feed.xml")


def test_links_to_other_sites_and_urls_too_long_to_store_are_skipped():
    feed = f"""<rss version="2.0"><channel><title>t</title>
      <item><title>here</title><link>http://blog.test/a/</link></item>
      <item><title>away</title><link>http://elsewhere.test/b/</link></item>
      <item><title>too long to store</title><link>http://blog.test/{"x" * 600}/</link></item>
    </channel></rss>"""

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=feed, headers={"content-type": "application/rss+xml"})

    with httpx.Client(transport=httpx.MockTransport(serve)) as http:
        links = scraping.read_source(http, "http://blog.test/feed.xml")
    assert [link.url for link in links] == ["http://blog.test/a/"]


def test_something_that_is_neither_a_feed_nor_a_page_is_refused():
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x00\x01", headers={"content-type": "image/png"})

    with (
        httpx.Client(transport=httpx.MockTransport(serve)) as http,
        pytest.raises(scraping.PageError, match="neither a feed nor an HTML page"),
    ):
        scraping.read_source(http, "http://blog.test/logo.png")


def test_every_request_says_who_is_asking_and_has_a_timeout():
    seen = {}

    def serve(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers, timeout=request.extensions["timeout"])
        return httpx.Response(200, text="<h1>t</h1>", headers={"content-type": "text/html"})

    http = scraping.client("workshop-scraper/test", 7)
    http._transport = httpx.MockTransport(serve)  # the same client, with a fake network
    scraping.download(http, "http://blog.test/a/")
    assert seen["user-agent"] == "workshop-scraper/test"
    assert seen["timeout"] == {"connect": 7, "read": 7, "write": 7, "pool": 7}


def serve_with(routes: dict[str, httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: routes[str(request.url)]))


def test_a_redirect_is_followed_on_the_same_site_only():
    http = serve_with(
        {
            "http://blog.test/old/": httpx.Response(301, headers={"location": "/new/"}),
            "http://blog.test/new/": httpx.Response(200, text="<h1>New</h1>"),
            "http://blog.test/away/": httpx.Response(
                302, headers={"location": "http://169.254.169.254/latest/meta-data/"}
            ),
        }
    )
    assert scraping.download(http, "http://blog.test/old/").url == "http://blog.test/new/"
    with pytest.raises(scraping.PageError, match="redirects to another site"):
        scraping.download(http, "http://blog.test/away/")


def test_a_redirect_loop_stops(http):
    loop = serve_with({"http://blog.test/a/": httpx.Response(302, headers={"location": "/a/"})})
    with pytest.raises(scraping.PageError, match="more than 5 redirects"):
        scraping.download(loop, "http://blog.test/a/")


def test_a_body_naming_a_local_file_is_not_read_as_that_file(tmp_path):
    local = tmp_path / "feed.xml"
    local.write_text(
        '<rss version="2.0"><channel><item><link>http://blog.test/x/</link></item></channel></rss>'
    )
    http = serve_with(
        {
            "http://blog.test/feed": httpx.Response(
                200, text=str(local), headers={"content-type": "text/plain"}
            )
        }
    )
    with pytest.raises(scraping.PageError, match="neither a feed nor an HTML page"):
        scraping.read_source(http, "http://blog.test/feed")


def test_nul_characters_never_reach_the_database():
    fields = scraping.parse_article(
        "http://blog.test/a/", "<h1>Ti\x00tle</h1>", {"author": "A\x00B", "summary": "s\x00"}
    )
    assert (fields["title"], fields["author"], fields["summary"]) == ("Title", "AB", "s")
