"""RAG_ADMIN_USERS: only admins change the documents, through the API and through the page's own
events; everyone else logged in asks and browses. A real Gradio server with a login file, and
gradio_client logged in as an admin and as a plain user."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from contextlib import contextmanager

import httpx
import pytest
from conftest import make_config
from gradio_client import Client, handle_file
from test_app import block_network, free_port, load_app_module

from rag.pipeline import Pipeline

pytestmark = pytest.mark.slow

ADMIN, USER = ("alice", "correct horse"), ("carol", "plain user")
STORY = ("Title: Narvik ferry grant\n\nThe council of Narvik approved a ferry grant of NOK 17 million "
         "on Tuesday, the harbour master said. The grant pays for two electric ferries.\n")


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory, embedder):
    tmp = tmp_path_factory.mktemp("admins")
    users = tmp / "users.txt"
    users.write_text(f"{ADMIN[0]}:{ADMIN[1]}\n{USER[0]}:{USER[1]}\n", encoding="utf-8")
    app = load_app_module()
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        config = make_config(tmp, port=free_port(), auth_file=users, admin_users=ADMIN[0])
        pipeline = Pipeline(config, embedder=embedder).warm_up()
        demo = app.create_app(pipeline)
        _, url, _ = app.launch(demo, config, prevent_thread_lock=True, quiet=True)
    story = tmp / "narvik.txt"
    story.write_text(STORY, encoding="utf-8")
    yield url, pipeline, story, demo
    demo.close()


def sources(client: Client) -> list[str]:
    return sorted(d["source"] for d in client.predict(api_name="/documents"))


def event_index(demo, handler_name: str) -> int:
    """The id of the page's own (private) event that runs `handler_name`: what the browser sends."""
    return next(i for i, fn in demo.fns.items() if getattr(fn.fn, "__name__", "") == handler_name)


def send_event(url: str, login: tuple[str, str], fn_index: int, data: list) -> list:
    """Run a page event as the browser does (gradio_client refuses private events): log in, join the
    queue with the event's id, read its result from the event stream."""
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("login", data={"username": login[0], "password": login[1]}).raise_for_status()
        session = uuid.uuid4().hex
        http.post("gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                  "event_data": None, "trigger_id": None}).raise_for_status()
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        assert msg.get("success"), msg
                        return msg["output"]["data"]
    raise AssertionError("the event stream ended without a result")


def test_a_plain_user_asks_and_lists_but_changes_nothing(admin_server):
    url, pipeline, story, _ = admin_server
    carol = Client(url, auth=USER, verbose=False)
    before = sources(carol)
    seeds_before = sorted(p.relative_to(pipeline.config.seeds_dir) for p in pipeline.config.seeds_dir.rglob("*"))
    text, answer = carol.predict("What did Japan offer India?", [], api_name="/ask")
    assert not answer["abstained"] and "[1]" in text
    for call, action in [
        (lambda: carol.predict(handle_file(str(story)), api_name="/upload"), "upload documents"),
        (lambda: carol.predict("http://127.0.0.1:9/story", api_name="/add_link"), "add links"),
        (lambda: carol.predict(before[0], api_name="/remove"), "remove documents"),
    ]:
        with pytest.raises(Exception, match=f"only an admin can {action} .*logged in as carol"):
            call()
    assert sources(carol) == before
    assert sorted(p.relative_to(pipeline.config.seeds_dir) for p in pipeline.config.seeds_dir.rglob("*")) == seeds_before


def test_the_page_events_are_checked_too(admin_server):
    """The Remove button's event, sent as the browser sends it (by its id), as the plain user."""
    url, pipeline, _, demo = admin_server
    carol = Client(url, auth=USER, verbose=False)
    before = sources(carol)
    message, *_ = send_event(url, USER, event_index(demo, "remove_file"), [before[0]])
    assert "only an admin can remove documents" in message
    message, *_ = send_event(url, USER, event_index(demo, "link_from_box"), ["http://127.0.0.1:9/story"])
    assert "only an admin can add links" in message
    message, *_ = send_event(url, USER, event_index(demo, "index_folder"), [])
    assert "only an admin can index the folder" in message
    # (the same event for the admin does run: the refusal above is the user's, not the event's)
    message, *_ = send_event(url, ADMIN, event_index(demo, "index_folder"), [])
    assert "indexed the folder" in message
    assert sources(carol) == before and (pipeline.config.seeds_dir / before[0]).exists()


def test_an_admin_uploads_and_removes(admin_server):
    url, _, story, _ = admin_server
    alice = Client(url, auth=ADMIN, verbose=False)
    added = alice.predict(handle_file(str(story)), api_name="/upload")
    assert added["message"].startswith("added narvik.txt")
    assert "uploads/narvik.txt" in sources(alice)
    _, answer = alice.predict("How large was the Narvik ferry grant?", [], api_name="/ask")
    assert not answer["abstained"] and "17 million" in answer["text"]
    alice.predict("uploads/narvik.txt", api_name="/remove")
    assert "uploads/narvik.txt" not in sources(alice)


@contextmanager
def logged_in_browser(url: str, login: tuple[str, str]):
    """Headless Chromium (Debian's, as in test_browser.py), logged in through Gradio's login form."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from test_browser import CHROMEDRIVER, CHROMIUM, wait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="dz-chromium-") as profile:
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", "--window-size=1280,1100", f"--user-data-dir={profile}"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.get(url)
            password = wait(driver, lambda d: d.find_elements("css selector", "input[type=password]"))[0]
            driver.find_elements("css selector", "input[type=text]")[0].send_keys(login[0])
            password.send_keys(login[1])
            next(b for b in driver.find_elements("css selector", "button") if b.text.strip().lower() == "login").click()
            wait(driver, lambda d: d.find_elements("css selector", "#dz-question textarea"))
            yield driver, wait
        finally:
            driver.quit()


@pytest.mark.browser
@pytest.mark.skipif(not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")),
                    reason="needs Debian's chromium and chromium-driver")
def test_the_page_disables_changes_for_a_plain_user(admin_server):
    from test_browser import click_tab

    url = admin_server[0]
    note = "Only an admin can add or remove documents"

    def controls(login: tuple[str, str], may: bool) -> None:
        with logged_in_browser(url, login) as (driver, wait):
            click_tab(driver, "Documents")
            # (the page's load event disables them and shows the note: wait for that, not a fixed time)
            wait(driver, lambda d: (note in d.find_element("css selector", "#dz-access-note").text) != may)
            for button in ("#dz-upload-btn", "#dz-remove-btn", "#dz-link-btn"):
                assert driver.find_element("css selector", button).is_enabled() is may

    controls(USER, may=False)
    controls(ADMIN, may=True)
