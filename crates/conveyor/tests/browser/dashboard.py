"""Drives the dashboard in headless Chromium (Debian's, through Playwright) for
tests/dashboard.rs: signs in with the operator key, waits for the throughput chart to show the
traffic the test sent, peeks a dead letter (twice: it is still there), redrives it from the UI,
and fails on any console error, page error or request that leaves the server. Screenshots go to
the artifacts directory. Prints one JSON line with what it saw."""

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--traffic-queue", required=True)
    parser.add_argument("--dlq", required=True)
    parser.add_argument("--message-id", required=True)
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()
    artifacts = Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium is not installed: run scripts/test-deps.sh", file=sys.stderr)
        return 2

    errors: list[str] = []
    outside: list[str] = []
    seen: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.set_default_timeout(15_000)
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on(
            "request",
            lambda r: None if r.url.startswith(args.url) or r.url.startswith("data:") else outside.append(r.url),
        )

        page.goto(f"{args.url}/dashboard")
        page.screenshot(path=str(artifacts / "1-sign-in.png"))
        page.fill("input[name=key]", args.key)
        page.click("button[type=submit]")
        page.wait_for_selector("#queues tbody tr")
        cookie = next(c for c in page.context.cookies() if c["name"] == "conveyor_session")
        seen["cookie"] = {"httpOnly": cookie["httpOnly"], "sameSite": cookie["sameSite"]}

        # The charts: the traffic queue's throughput, sampled every 10 s.
        row = page.locator(f'#queues tbody tr[data-queue="{args.traffic_queue}"]')
        deadline = time.time() + 60
        while True:
            row.locator("td").first.click()
            peak = float(page.get_attribute("#chart-throughput", "data-peak") or 0)
            if peak > 0:
                break
            if time.time() > deadline:
                raise AssertionError("the throughput chart never showed the traffic")
            page.wait_for_timeout(2_000)
            page.reload()
            page.wait_for_selector("#queues tbody tr")
        seen["throughput_peak"] = peak
        seen["chart_points"] = int(page.get_attribute("#chart-throughput", "data-points"))
        page.screenshot(path=str(artifacts / "2-dashboard.png"), full_page=True)

        # The dead letter: peeked, and peeked again (a peek takes nothing).
        page.select_option("#dlq-select", args.dlq)
        for attempt in range(2):
            page.click("#dlq-peek")
            page.wait_for_selector(f'#dlq tbody tr[data-message-id="{args.message_id}"]')
        dead = page.locator(f'#dlq tbody tr[data-message-id="{args.message_id}"]')
        seen["dlq_row"] = dead.inner_text()
        page.screenshot(path=str(artifacts / "3-dead-letters.png"), full_page=True)

        # Its timeline, then the redrive from the UI.
        dead.locator("a.id").click()
        page.wait_for_selector("#timeline tbody tr")
        seen["timeline"] = page.locator("#timeline tbody").inner_text()
        dead.locator("input[type=checkbox]").check()
        page.click("#dlq-redrive-selected")
        # (Playwright's locators, not wait_for_function: the page's policy forbids eval.)
        expect(page.locator("#dlq-status")).to_have_text(re.compile(r"^redrove 1"))
        expect(page.locator(f'#dlq tbody tr[data-message-id="{args.message_id}"]')).to_have_count(0)
        seen["status"] = page.locator("#dlq-status").inner_text()
        page.screenshot(path=str(artifacts / "4-redriven.png"), full_page=True)
        browser.close()

    seen["errors"] = errors
    seen["outside_requests"] = outside
    print(json.dumps(seen))
    return 0 if not errors and not outside else 1


if __name__ == "__main__":
    sys.exit(main())
