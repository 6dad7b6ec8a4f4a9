"""Take the README's dashboard screenshot (docs/dashboard.png) from a running gateway.

    scgw demo --data-dir data &                       # or any gateway fed by the simulator
    python scripts/dashboard_screenshot.py --url http://127.0.0.1:8080 --data-dir data

The key is read from SCGW_API_KEY, else from the demo's data folder (its admin key); it goes
into the page's sign-in form, never into a URL or onto the command line. Debian's Chromium
does the drawing (Playwright never downloads a browser here); requests to any other host are
aborted, as on a network with no internet.
"""

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path

from playwright.async_api import Route, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"


def api_key(data_dir: Path | None) -> str:
    key = os.environ.get("SCGW_API_KEY")
    if key:
        return key
    if data_dir is not None and (data_dir / "secrets.json").exists():
        secrets = json.loads((data_dir / "secrets.json").read_text(encoding="utf-8"))
        return str(secrets["admin_api_key"])
    sys.exit("set SCGW_API_KEY or give the demo's --data-dir")


async def screenshot(url: str, key: str, out: Path, language: str, wait_s: float) -> None:
    base = url.rstrip("/")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})

            async def only_the_gateway(route: Route) -> None:
                if route.request.url.startswith(base):
                    await route.continue_()
                else:
                    await route.abort()

            await page.route("**/*", only_the_gateway)
            await page.goto(f"{base}/")
            await page.get_by_test_id("sign-in-key").fill(key)
            await page.get_by_test_id("sign-in-submit").click()
            await expect(page.get_by_test_id("updated-at")).to_have_attribute(
                "data-at", re.compile("."), timeout=120_000
            )
            if language == "en":
                await page.get_by_test_id("lang-toggle").click()
            await page.wait_for_timeout(wait_s * 1000)  # let live updates land: a picture only
            out.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(out))  # the wall screen, as seen: no scrolling
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's API")
    parser.add_argument("--data-dir", type=Path, help="the demo's data folder, for its key")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--language", choices=["zh", "en"], default="zh")
    parser.add_argument("--wait", type=float, default=3.0, help="seconds after the first load")
    args = parser.parse_args()
    asyncio.run(screenshot(args.url, api_key(args.data_dir), args.out, args.language, args.wait))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
