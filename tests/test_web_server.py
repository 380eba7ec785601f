"""Server infrastructure: OpenAPI, inline plotly, JSON errors, size limits, path confinement, jobs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from liqcascade.errors import InputError
from liqcascade.web import create_app
from liqcascade.web.jobs import JobManager
from liqcascade.web.safety import PathOutsideDataDir, safe_path
from web_support import running_server


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "books").mkdir()
    (d / "books" / "inside.csv").write_text("a,b\n1,2\n")
    return d


@pytest.fixture
def client(data_dir: Path) -> TestClient:
    return TestClient(
        create_app(data_dir=data_dir, max_upload_bytes=64 * 1024, max_body_bytes=8 * 1024)
    )


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert "/api/jobs/{job_id}" in schema["paths"]
    assert "/api/books/upload" in schema["paths"]
    assert client.get("/").status_code == 200


def test_plotly_served_from_installed_package(client: TestClient) -> None:
    from plotly.offline import get_plotlyjs

    resp = client.get("/static/plotly.min.js")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/javascript")
    assert resp.text == get_plotlyjs()
    page = client.get("/").text
    assert "cdn" not in page.lower()
    assert "https://" not in page


@pytest.mark.parametrize(
    "url",
    [
        "/api/data/%2e%2e/%2e%2e/etc/passwd",
        "/api/data/books/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/data/%2Fetc%2Fpasswd",
        "/api/data/books%5C..%5C..%5Cetc",
        "/api/books/info?source=data&name=../../etc/passwd",
        "/api/books/info?source=data&name=/etc/passwd",
        "/api/books/info?source=data&name=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/books/info?source=data&name=C:/Windows/win.ini",
    ],
)
def test_path_tricks_are_refused(client: TestClient, url: str) -> None:
    resp = client.get(url)
    assert 400 <= resp.status_code < 500, resp.text
    body = resp.json()
    assert body["field"] in ("path", "name")
    assert "passwd" not in resp.text or "refused" in body["detail"]
    # the server still answers
    assert client.get("/api/health").status_code == 200


def test_symlink_out_of_data_dir_is_refused(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("side,size_base\n1,2\n")
    (data_dir / "books" / "link.csv").symlink_to(outside)
    resp = client.get("/api/data/books/link.csv")
    assert resp.status_code == 400
    assert "outside the data directory" in resp.json()["detail"]
    ok = client.get("/api/data/books/inside.csv")
    assert ok.status_code == 200 and ok.json()["bytes"] == len("a,b\n1,2\n")


def test_safe_path_unit(tmp_path: Path) -> None:
    assert safe_path(tmp_path, "a/b.csv") == (tmp_path / "a" / "b.csv").resolve()
    for bad in ("", "../x", "a/../../x", "/etc/passwd", "a\\b", "x\x00y", "C:/x"):
        with pytest.raises(PathOutsideDataDir):
            safe_path(tmp_path, bad)
    assert issubclass(PathOutsideDataDir, InputError)


def test_declared_oversized_upload_gets_413(client: TestClient) -> None:
    resp = client.post("/api/books/upload", files={"file": ("big.csv", b"x" * (65 * 1024))})
    assert resp.status_code == 413
    assert resp.json()["field"] == "body"
    assert "limit" in resp.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_chunked_oversized_body_gets_413(client: TestClient) -> None:
    sent = []

    def chunks():
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        for _ in range(100):
            sent.append(1)
            yield b"y" * 1024

    resp = client.post(
        "/api/books/upload",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert resp.status_code == 413
    assert client.get("/api/health").status_code == 200


def test_oversized_json_body_gets_413(client: TestClient) -> None:
    resp = client.post(
        "/api/jobs",
        content=b"[" + b"1," * 10000 + b"1]",
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 413


def test_upload_refuses_wrong_suffix(client: TestClient) -> None:
    resp = client.post("/api/books/upload", files={"file": ("../../evil.sh", b"side,size_base\n")})
    assert resp.status_code == 422
    assert resp.json()["detail"].startswith("file:")


def test_unknown_job_is_404_with_field(client: TestClient) -> None:
    resp = client.get("/api/jobs/nope")
    assert resp.status_code == 404
    assert resp.json()["field"] == "job_id"


def test_job_manager_progress_result_cancel_and_errors() -> None:
    jm = JobManager(max_workers=2)
    try:
        seen = []

        def work(progress):
            for i in range(5):
                progress(i / 5, f"step {i}")
                seen.append(i)
            return {"total": sum(seen)}

        job = jm.wait(jm.submit("sum", {}, work).id)
        assert job.status == "done" and job.result == {"total": 10} and job.progress == 1.0

        def bad(progress):
            raise InputError("shock: expected a number in (-1, 10), got 'x'")

        failed = jm.wait(jm.submit("bad", {}, bad).id)
        assert failed.status == "failed" and failed.error_type == "InputError"
        assert "shock" in failed.error

        gate = threading.Event()

        def slow(progress):
            gate.wait(5)
            for _ in range(1000):
                progress(0.5, "looping")
                time.sleep(0.001)
            return {}

        running = jm.submit("slow", {}, slow)
        jm.cancel(running.id)
        gate.set()
        assert jm.wait(running.id).status == "cancelled"
    finally:
        jm.shutdown()


def test_real_server_survives_bad_requests(data_dir: Path) -> None:
    app = create_app(data_dir=data_dir, max_upload_bytes=32 * 1024)
    with running_server(app) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        bad = [
            http.post(
                "/api/books/upload",
                content=b"z" * (64 * 1024),
                headers={"content-type": "multipart/form-data; boundary=x"},
            ),
            http.get("/api/data/%2e%2e/%2e%2e/etc/passwd"),
            http.get("/api/books/info", params={"source": "data", "name": "/etc/passwd"}),
            http.post(
                "/api/books/upload",
                content=b"not multipart",
                headers={"content-type": "multipart/form-data; boundary=zz"},
            ),
            http.get("/api/jobs/%00"),
            http.post(
                "/api/books/upload",
                content=(b"w" * 4096 for _ in range(64)),  # chunked: no Content-Length
                headers={"content-type": "multipart/form-data; boundary=x"},
            ),
        ]
        for resp in bad:
            assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
            assert "detail" in resp.json()
        assert http.get("/api/health").json()["status"] == "ok"


@pytest.mark.slow
def test_serve_cli_binds_localhost_and_serves(tmp_path: Path) -> None:
    import subprocess
    import sys

    from web_support import free_port

    port = free_port()
    exe = Path(sys.executable).parent / "liqcascade"
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d"),
            "--db",
            str(tmp_path / "m.duckdb"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).json()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stderr.read().decode()[-2000:]) from None
                time.sleep(0.2)
        assert health["status"] == "ok"
        assert Path(health["data_dir"]) == (tmp_path / "d").resolve()
        assert (tmp_path / "d" / "uploads").is_dir()
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "/static/app.css" in page.text
        # bound to the loopback interface only (the default host): 127.0.0.1 is 0100007F in /proc
        listening = [
            ln.split()[1]
            for ln in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if ln.split()[3] == "0A"
        ]
        assert f"0100007F:{port:04X}" in listening
        assert f"00000000:{port:04X}" not in listening
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_no_page_loads_anything_from_another_host(client: TestClient) -> None:
    # FastAPI's Swagger UI would pull scripts from a CDN: it is switched off, the schema stays
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    for url in ["/"] + [f"/{p}" for p in client.get("/api/health").json()["pages"]]:
        text = client.get(url).text
        assert "http://" not in text and "https://" not in text, url
