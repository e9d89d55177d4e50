"""Time to first token and to the full answer, as a user sees them in the browser.

    .venv/bin/python scripts/measure_ui.py                      # starts the app itself (RAG_* settings)
    .venv/bin/python scripts/measure_ui.py --url http://127.0.0.1:7860
    .venv/bin/python scripts/measure_ui.py --screenshot docs/screenshot.png

Drives headless Chromium (Debian's chromium + chromium-driver). For each question the page's own
clock records the Enter key press, the first answer text on screen (not the "Searching…"
placeholder) and the finished answer with its source cards, so the figures include the queue,
the websocket/SSE round trip and rendering, not just the pipeline.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUESTIONS = [
    "What did Japan offer India?",
    "Which countries are Japan's partners in the Global Combat Air Program?",
    "What defence spending target has Japan set, and for which year?",
    "And when was that target set?",  # a follow-up: the previous question shapes the search
    "Who won the 2022 FIFA World Cup?",  # abstains, showing the closest passages
]

# Timestamps on the page clock: Enter pressed, first answer text shown, final answer shown.
PROBE_JS = """
window.__dz = {marks: []};
const box = document.querySelector('#dz-question textarea');
box.addEventListener('keydown', e => {
  if (e.key === 'Enter' && !e.shiftKey) window.__dz.marks.push({sent: performance.now()});
}, true);
new MutationObserver(() => {
  const m = window.__dz.marks[window.__dz.marks.length - 1];
  if (!m) return;
  const answers = document.querySelectorAll('#dz-chat .dz-answer');
  const last = answers[answers.length - 1];
  if (!last || answers.length !== window.__dz.marks.length) return;
  const now = performance.now();
  if (m.first === undefined && (last.classList.contains('dz-done') || last.querySelector('.dz-text:not(.dz-muted)')))
    m.first = now;
  if (m.done === undefined && last.classList.contains('dz-done')) m.done = now;
}).observe(document.body, {childList: true, subtree: true, characterData: true});
"""


def start_app(temp: bool) -> tuple[str, object]:
    """Launch app.py's app in this process on a free port; with temp, over a copy of seeds/."""
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("dossier_app", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    from rag.config import Config
    from rag.pipeline import Pipeline

    overrides = {}
    if temp:
        tmp = Path(tempfile.mkdtemp(prefix="dz-measure-"))
        shutil.copytree(ROOT / "seeds", tmp / "seeds", ignore=shutil.ignore_patterns("uploads"))
        overrides = {"seeds_dir": tmp / "seeds", "index_dir": tmp / "index"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = Config.from_env(port=port, **overrides)
    t0 = time.perf_counter()
    pipeline = Pipeline(config).warm_up()
    print(f"warm-up (models + index): {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    demo = app.create_app(pipeline)
    _, url, _ = app.launch(demo, config, prevent_thread_lock=True, quiet=True)
    return url, demo


def browser(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--window-size={width},{height}", f"--user-data-dir={tempfile.mkdtemp(prefix='dz-chromium-')}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def measure(url: str, questions: list[str], screenshot: Path | None, screenshot_after: int, hover: bool = False) -> list[dict]:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    # Tall enough for a question, its answer and the source cards without scrolling.
    driver = browser(1280, 1500)
    try:
        driver.get(url)
        box = WebDriverWait(driver, 120).until(lambda d: d.find_element("css selector", "#dz-question textarea"))
        # A person reads the page before typing; a question sent in the first instant would also
        # time the page's own loading (component code, the load event), not the answer.
        time.sleep(2)
        driver.execute_script(PROBE_JS)
        rows = []
        for i, question in enumerate(questions, start=1):
            box.send_keys(question)
            box.send_keys(Keys.ENTER)
            WebDriverWait(driver, 300, poll_frequency=0.05).until(
                lambda d, i=i: len(d.find_elements("css selector", "#dz-chat .dz-done")) >= i)
            time.sleep(0.2)  # let the observer see the last mutation
            mark = driver.execute_script("return window.__dz.marks")[i - 1]
            # The answer's footer ("extractive · 0.12 s") is the pipeline's own time: the rest is UI.
            footer = driver.find_elements("css selector", "#dz-chat .dz-done")[-1].find_elements("css selector", ".dz-timing")
            found = re.search(r"([\d.]+) s", footer[0].text) if footer else None
            rows.append({"question": question, "ttft_ms": mark["first"] - mark["sent"], "full_ms": mark["done"] - mark["sent"],
                         "pipeline_ms": float(found.group(1)) * 1000 if found else float("nan")})
            if screenshot and i == screenshot_after:
                cites = driver.find_elements("css selector", "#dz-chat .dz-done")[-1].find_elements("css selector", "a.dz-cite")
                if hover and cites:  # show the first citation's source tooltip too
                    ActionChains(driver).move_to_element(cites[0]).perform()
                time.sleep(0.5)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(screenshot))
        return rows
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="measure a running app instead of starting one")
    parser.add_argument("--in-place", action="store_true", help="start the app over seeds/ and index/ (default: a temp copy)")
    parser.add_argument("--screenshot", type=Path, help="save a screenshot after one of the answers")
    parser.add_argument("--screenshot-after", type=int, default=1, help="which answer to photograph (1-based)")
    parser.add_argument("--hover", action="store_true", help="hover the first citation before the screenshot")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()

    demo = None
    url = args.url
    if not url:
        url, demo = start_app(temp=not args.in_place)
    try:
        rows = measure(url, QUESTIONS, args.screenshot, args.screenshot_after, args.hover)
    finally:
        if demo is not None:
            demo.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'first text':>10} {'full answer':>11} {'(pipeline)':>10}  question")
        for r in rows:
            print(f"{r['ttft_ms']:8.0f}ms {r['full_ms']:9.0f}ms {r['pipeline_ms']:8.0f}ms  {r['question']}")
        print(f"{statistics.median(r['ttft_ms'] for r in rows):8.0f}ms {statistics.median(r['full_ms'] for r in rows):9.0f}ms "
              f"{statistics.median(r['pipeline_ms'] for r in rows):8.0f}ms  median of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
