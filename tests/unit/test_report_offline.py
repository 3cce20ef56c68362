"""Reports render offline: no script, style or image is fetched from the network."""

from html.parser import HTMLParser

from opskit.runner import run_runbook


class _Fetches(HTMLParser):
    def __init__(self):
        super().__init__()
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        url = attrs.get("src") if tag in ("script", "img", "iframe") else None
        if tag == "link" and attrs.get("rel") in ("stylesheet", "preload", "icon", "modulepreload"):
            url = attrs.get("href")
        if url and (url.split(":", 1)[0].lower() in ("http", "https") or url.startswith("//")):
            self.external.append(f"<{tag}> {url}")


def test_a_report_with_a_plot_and_maths_loads_nothing_from_the_network(tmp_path, runbook_fixture):
    result = run_runbook(runbook_fixture("plot"), reports_dir=tmp_path, fail_on="never")
    page = result.html_path.read_text()
    parser = _Fetches()
    parser.feed(page)
    assert parser.external == []
    assert "require.min.js" not in page and "mathjax" not in page.lower()
    assert "<img" in page  # the figure is embedded, not linked
