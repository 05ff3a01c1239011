"""Templates run on a budget, off the writer thread, against a real
`mailbell serve`: the worst templates are refused naming the field, the server's memory stays
flat, and another tenant's events and /healthz stay fast while one tenant saves them."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

from core.context import Context
from tests.api.conftest import QUEUE_CALL_LOST, Tokens, smtp_settings
from tests.api.serve_process import ServeProcess
from tests.support.load import Client, health_probe, p99
from tests.support.smtp_servers import SmtpTestServer
from tests.support.worst_templates import WORST_TEMPLATES

TEMPLATES = "/api/custom_email_templates"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


_nonces = iter(range(10**9))


def _template(field: str, source: str) -> dict[str, str]:
    """A new template each time (a comment makes it unique): refusals are remembered, and the
    attacker must not be answered from memory."""
    return {"name": "QUEUE_CALL_LOST", field: f"{{# {next(_nonces)} #}}{source}"}


def _warm_up(acme: Client, serve_url_client: Client) -> None:
    good = "<p>{{ queue_name }} lost {{ caller }}</p>"
    for index in range(20):
        status, body, _ = acme.request("POST", TEMPLATES, _template("body", f"{good}{index}"))
        assert status == 200, body
        assert acme.request("DELETE", f"{TEMPLATES}/QUEUE_CALL_LOST")[0] == 200
        assert serve_url_client.request("GET", "/healthz")[0] == 200


def test_worst_templates_are_400_naming_the_field_and_memory_stays_flat(
    ctx: Context, tokens: Tokens, tmp_path: Path
) -> None:
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        acme, anonymous = Client(serve, tokens.acme), Client(serve)
        _warm_up(acme, anonymous)
        for field, source, _says in WORST_TEMPLATES[:5]:  # warm the refusal paths too
            acme.request("POST", TEMPLATES, _template(field, source))
        before = _rss_mb(serve.process.pid)
        peak = before
        for field, source, says in WORST_TEMPLATES:
            status, body, took = acme.request("POST", TEMPLATES, _template(field, source))
            assert status == 400, (source, body)
            assert body["field"] == field, (source, body)
            assert says in body["error"], (source, body)
            assert took < 10, (source, took)  # bounded work (was 20 s for lipsum), not speed
            peak = max(peak, _rss_mb(serve.process.pid))
        status, body, _ = acme.request("GET", f"{TEMPLATES}/QUEUE_CALL_LOST")
        assert status == 404, body  # nothing was stored
        after = _rss_mb(serve.process.pid)
        acme.close()
        anonymous.close()
    assert peak - before < 50, f"RSS {before:.0f} MB -> peak {peak:.0f} MB"
    assert after - before < 50, f"RSS {before:.0f} MB -> {after:.0f} MB"


def test_other_tenants_stay_fast_while_one_saves_the_worst_templates(
    ctx: Context, tokens: Tokens, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        acme, globex = Client(serve, tokens.acme), Client(serve, tokens.globex)
        health = Client(serve)
        settings = smtp_settings(smtp_server, recipients="ops@globex.example")
        status, body, _ = globex.request("POST", "/api/tenant/notification", settings)
        assert status == 200, body
        _warm_up(acme, health)
        counter = iter(range(1_000_000))

        def post_event() -> float:
            key = f"b-{next(counter)}"
            event = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": key}
            status, body, took = globex.request("POST", "/api/events", event)
            assert status == 202, body
            return took

        for _ in range(100):
            post_event()
            health.request("GET", "/healthz")

        stop = threading.Event()
        saves: list[int] = []
        failures: list[BaseException] = []

        def attack() -> None:
            try:
                while not stop.is_set():
                    for field, source, _says in WORST_TEMPLATES:
                        if stop.is_set():
                            break
                        status, _, _ = acme.request("POST", TEMPLATES, _template(field, source))
                        saves.append(status)
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        health_times: list[float] = []
        threads = [
            threading.Thread(target=attack),
            health_probe(health, stop, failures, health_times),
        ]
        for thread in threads:
            thread.start()
        event_times: list[float] = []
        deadline = time.monotonic() + 6
        try:
            time.sleep(0.3)  # the attack is under way
            while time.monotonic() < deadline:
                event_times.append(post_event())
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        for client in (acme, globex, health):
            client.close()
    assert not failures, failures
    assert len(saves) >= 10 and set(saves) == {400}, saves
    assert len(event_times) >= 200 and len(health_times) >= 100
    events_p99, health_p99 = p99(event_times), p99(health_times)
    print(
        f"\n{len(saves)} worst-template saves; events p50 "
        f"{statistics.median(event_times) * 1000:.1f} ms p99 {events_p99 * 1000:.1f} ms "
        f"({len(event_times)}); /healthz p50 {statistics.median(health_times) * 1000:.1f} ms "
        f"p99 {health_p99 * 1000:.1f} ms ({len(health_times)})"
    )
    assert events_p99 < 0.100, f"POST /api/events p99 {events_p99 * 1000:.1f} ms"
    assert health_p99 < 0.050, f"/healthz p99 {health_p99 * 1000:.1f} ms"
