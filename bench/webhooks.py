"""`make bench-webhooks`: send_pending_webhooks drains 10,000 pending deliveries to a fast local
receiver (a threaded HTTP server in its own process); budget: at most 60 s on this machine.

Uses the database of DATABASE_URL (a PostgreSQL database of its own: it adds rows and removes them).
"""

import json
import multiprocessing
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT, BUDGET_S, CONCURRENCY = 10_000, 60.0, 16


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def serve(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE="true", LOG_LEVEL="ERROR")
    import django

    django.setup()
    from common import webhooks
    from common.models import WebhookDelivery, WebhookEndpoint
    from testkit.servers import free_port

    port = free_port()
    receiver = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    receiver.start()
    time.sleep(0.5)
    endpoint = WebhookEndpoint.objects.create(
        url=f"http://127.0.0.1:{port}/hook", events=["*"], secret=webhooks.seal(webhooks.new_secret()),
        description="bench",
    )  # fmt: skip
    try:
        payload = json.dumps({"type": "webhook.test", "data": {"bench": True}})
        WebhookDelivery.objects.bulk_create(
            (WebhookDelivery(endpoint=endpoint, message_id=f"msg_bench_{i}", event="webhook.test", payload=payload)
             for i in range(COUNT)), batch_size=2000,
        )  # fmt: skip
        started = time.perf_counter()
        done = webhooks.send_pending(concurrency=CONCURRENCY)
        seconds = time.perf_counter() - started
        delivered = WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count()
    finally:
        endpoint.delete()
        receiver.terminate()
    ok = seconds <= BUDGET_S and delivered == COUNT
    print(f"send_pending_webhooks, {CONCURRENCY} attempts in flight, {COUNT:,} deliveries to a local receiver\n")
    print("| measure | value | budget | result |\n|---|---:|---:|---|")
    print(f"| seconds to drain | {seconds:.1f} | {BUDGET_S:.0f} | {'PASS' if ok else 'FAIL'} |")
    print(f"| deliveries/s | {COUNT / seconds:,.0f} | | |")
    print(f"| delivered | {delivered:,} of {COUNT:,} (attempted {done['attempted']:,}) | | |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
