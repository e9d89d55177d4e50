"""The new sources in the app: PDF and Word uploads, the Add link box and /add_link, the page on
the source card. Through gradio_client, then in headless Chromium (Debian's chromium)."""

from __future__ import annotations

import os

import format_fixtures as ff
import pytest
from conftest import make_config
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from test_app import block_network, content, free_port, load_app_module
from test_browser import CHROMEDRIVER, CHROMIUM, ask, browser, click_tab, wait  # noqa: F401  (browser: a fixture)
from test_sources import site  # noqa: F401  (the local web server, a fixture)

from rag.pipeline import Pipeline

pytestmark = pytest.mark.slow

DREDGING = "When will the dredging of the Kirkenes channel start?"
LIGHTHOUSE = "How long did the 1993 storm cut the road to the Slettnes lighthouse?"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """The app over the seed articles; yields (url, pipeline, temp folder)."""
    tmp = tmp_path_factory.mktemp("app-sources")
    app = load_app_module()
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        config = make_config(tmp, port=free_port(), fetch_timeout=1)
        pipeline = Pipeline(config, embedder=embedder).warm_up()
        demo = app.create_app(pipeline)
        _, url, _ = app.launch(demo, config, prevent_thread_lock=True, quiet=True)
    yield url, pipeline, tmp
    demo.close()


def fixture_file(tmp, name: str, data: bytes) -> str:
    path = tmp / "to_upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_pdf_and_docx_uploads_and_links_through_the_api(served, site):  # noqa: F811
    client = Client(served[0], verbose=False)
    assert "/add_link" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    report = client.predict(handle_file(fixture_file(served[2], "ports-review.pdf", ff.running_header_pdf())), api_name="/upload")
    assert report["added"] == ["uploads/ports-review.pdf"]
    client.predict(handle_file(fixture_file(served[2], "ferries.docx", ff.docx_with_table())), api_name="/upload")
    listed = {d["source"]: d for d in client.predict(api_name="/documents")}
    assert listed["uploads/ports-review.pdf"]["pages"] == 3 and listed["uploads/ferries.docx"]["pages"] is None
    _, answer = client.predict(DREDGING, [], api_name="/ask")
    top = answer["citations"][0]
    assert top["source"] == "uploads/ports-review.pdf" and top["page"] == 3 and "September" in top["snippet"]
    chat, _ = client.predict(DREDGING, [], api_name="/chat")
    assert '<span class="dz-page">p. 3</span>' in content(chat[-1])

    with pytest.raises(AppError, match=r"locked.pdf: this PDF is encrypted"):
        client.predict(handle_file(fixture_file(served[2], "locked.pdf", ff.encrypted_pdf())), api_name="/upload")

    added = client.predict(f"{site.base}/old", api_name="/add_link")
    assert added["sources"][0].startswith("imported/web/") and added["chunks_embedded"] >= 1
    _, answer = client.predict(LIGHTHOUSE, [], api_name="/ask")
    assert answer["citations"][0]["url"] == f"{site.base}/story"
    with pytest.raises(AppError, match=r"HTTP 404"):
        client.predict(f"{site.base}/missing", api_name="/add_link")


@pytest.mark.browser
@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="needs Debian's chromium and chromium-driver")
def test_documents_tab_uploads_say_per_file_and_the_add_link_box(browser, served, site):  # noqa: F811
    good = fixture_file(served[2], "harbour-bulletin.pdf", ff.two_column_pdf())
    scan = fixture_file(served[2], "scan.pdf", ff.image_only_pdf())
    click_tab(browser, "Documents")
    browser.find_element("css selector", "#dz-upload input[type=file]").send_keys(f"{good}\n{scan}")
    wait(browser, lambda d: "scan" in d.find_element("css selector", "#dz-upload").text)
    browser.find_element("css selector", "#dz-upload-btn").click()
    wait(browser, lambda d: d.find_elements("css selector", "#dz-result .dz-fail"))
    result = browser.find_element("css selector", "#dz-result")
    assert "added harbour-bulletin.pdf" in result.find_element("css selector", ".dz-ok").text
    assert "uploads/scan.pdf: this PDF has no text layer; run OCR first" in result.find_element("css selector", ".dz-fail").text

    box = browser.find_element("css selector", "#dz-link input, #dz-link textarea")
    box.send_keys(f"{site.base}/missing")
    browser.find_element("css selector", "#dz-link-btn").click()
    wait(browser, lambda d: "HTTP 404" in d.find_element("css selector", "#dz-result").text)
    box.clear()
    box.send_keys(f"{site.base}/story")
    browser.find_element("css selector", "#dz-link-btn").click()
    wait(browser, lambda d: f"added {site.base}/story" in d.find_element("css selector", "#dz-result").text)
    assert "Lighthouse keeper retires" in browser.find_element("css selector", "#dz-docs").text

    click_tab(browser, "Chat")
    answer = ask(browser, "How much money did the mayor of Vardø promise for the boats?")
    assert "two million kroner" in answer.text and "harbour-bulletin.pdf" in answer.text and "p. 2" in answer.text
    answer = ask(browser, LIGHTHOUSE)
    link = answer.find_element("css selector", "a.dz-url")
    assert link.get_attribute("href") == f"{site.base}/story"
