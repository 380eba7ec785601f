"""Start ``liqcascade serve`` from the installed wheel and check the dashboard as a new user would:
every page answers 200, and on every page a click on Run with the form's defaults ends in a
result (chromium through Playwright; the page sets ``body[data-state]`` to done or error).

    python .ci/smoke_web.py --db demo.duckdb --data-dir web-data

Run it with the interpreter of the venv the wheel is installed in, from outside the checkout.
Needs Debian chromium (``make chromium``; or ``$LIQCASCADE_CHROMIUM``) and the ``playwright``
package. Exit code 1 and one line per failure if anything is wrong.
"""

from __future__ import annotations

import argparse
import importlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402  (shared with the browser tests)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"liqcascade serve exited with code {proc.returncode}")
        try:
            if get(base + "/api/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"liqcascade serve did not answer /api/health within {timeout_s:.0f} s")


def run_defaults(base: str, paths: list[str], timeout_s: float) -> list[str]:
    """Click Run with the defaults on every page; one failure line per page that does not end
    in ``done`` or that logs a script error."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        return ["chromium not found (run `make chromium` or set LIQCASCADE_CHROMIUM)"]
    failures: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            for path in paths:
                errors: list[str] = []
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda exc, e=errors: e.append(f"pageerror: {exc}"))
                page.on(
                    "console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None
                )
                page.set_default_timeout(60_000)
                t0 = time.monotonic()
                try:
                    page.goto(base + path)
                    page.wait_for_function("document.body.dataset.ready === '1'")
                    page.click('[data-testid="run"]')
                    page.wait_for_function(
                        "['done', 'error'].includes(document.body.dataset.state)",
                        timeout=timeout_s * 1000,
                    )
                    state = page.evaluate("document.body.dataset.state")
                    status = page.text_content('[data-testid="status"]') or ""
                except Exception as exc:  # a timeout or a page that never got ready
                    state, status = "exception", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                dt = time.monotonic() - t0
                if state != "done":
                    failures.append(f"{path}: default example ended in {state!r}: {status.strip()}")
                elif errors:
                    failures.append(f"{path}: script errors: {errors[:3]}")
                print(f"{path}: default example {state} in {dt:.1f} s  {status.strip()[:100]}")
                page.close()
        finally:
            browser.close()
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="store for the map and replay pages")
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per page's example")
    args = ap.parse_args()

    args.data_dir.mkdir(parents=True, exist_ok=True)
    # The page list is the app's own: a page left out of the navigation is a failure.
    app_mod = importlib.import_module("liqcascade.web.app")
    paths = [importlib.import_module(m).PAGE.path for m in app_mod.PAGE_MODULES]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("liqcascade")), "serve", "--port", str(port),
           "--data-dir", str(args.data_dir)]  # fmt: skip
    if args.db:
        cmd += ["--db", str(args.db)]
    log = open(args.data_dir.parent / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    failures: list[str] = []
    try:
        wait_healthy(base, proc)
        print(f"liqcascade serve on {base}: {json.loads(get(base + '/api/health')[1])}")
        for path in ["/", *paths]:
            code, body = get(base + path)
            print(f"GET {path}: {code}")
            if code != 200:
                failures.append(f"GET {path}: {code} {body[:200]!r}")
        nav = get(base + "/")[1].decode("utf-8", "replace")
        failures += [f"/: no link to {p}" for p in paths if f'href="{p}"' not in nav]
        failures += run_defaults(base, paths, args.timeout)
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    if failures:
        print("server log (last lines):")
        lines = (args.data_dir.parent / "serve.log").read_text("utf-8", "replace").splitlines()
        print("\n".join(lines[-30:]))
        for f in failures:
            print("FAILED:", f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
