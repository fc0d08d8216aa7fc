"""Cold start of each function's release binary, through a minimal Lambda Runtime API.

For every function: start the binary with AWS_LAMBDA_RUNTIME_API pointing here, hand it
one event, and measure from process start to
  * init done: its first `GET /runtime/invocation/next`;
  * first answer: the `POST /runtime/invocation/<id>/response`.
Also the binary's size and the process's peak resident memory (VmHWM) after answering.

Usage: coldstart.py BIN_DIR ENV_FILE ROUNDS   (ENV_FILE: the stack's KEY=VALUE lines)
Prints a Markdown table. The functions' store must be reachable (the stack's moto).
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN_DIR, ENV_FILE, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def http_event(method, path, body="", headers=None):
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "bench.local", **(headers or {})},
        "requestContext": {"accountId": "1", "apiId": "bench", "domainName": "bench.local", "domainPrefix": "bench",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "coldstart"},
                           "requestId": "cold", "routeKey": f"{method} {path}", "stage": "$default",
                           "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": body, "isBase64Encoded": False,
    }


FORM = {"content-type": "application/x-www-form-urlencoded"}
with open(os.path.join(ROOT, "shared/fixtures/authorizer-event.json")) as f:
    AUTHORIZER_EVENT = json.load(f)

# One representative first request per function. They are answered with an error where
# no credentials are at hand; a cold start is the same work up to the answer.
EVENTS = {
    "discovery": http_event("GET", "/.well-known/jwks.json"),
    "issue": http_event("POST", "/oauth2/token", "grant_type=client_credentials", FORM),
    "refresh": http_event("POST", "/oauth2/refresh", "grant_type=refresh_token&refresh_token=x", FORM),
    "revoke": http_event("POST", "/oauth2/revoke", "token=x", FORM),
    "introspect": http_event("POST", "/oauth2/introspect", "token=x", FORM),
    "logout": http_event("POST", "/oauth2/logout", "sid=x", FORM),
    "userinfo": http_event("GET", "/userinfo", "", {"authorization": "Bearer x"}),
    "authorizer": AUTHORIZER_EVENT,
    "logout-retry": {},
}


class Runtime(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # /2018-06-01/runtime/invocation/next
        run = self.server.run
        if run["next_at"] is None:
            run["next_at"] = time.perf_counter()
            body = json.dumps(run["event"]).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", run["id"])
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:bench")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            run["done"].wait(30)  # the second `next` parks until we stop the process

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        run = self.server.run
        run["answered_at"] = time.perf_counter()
        run["error"] = "error" in self.path
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        run["answered"].set()


def env_from(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(name, base_env):
    # A fresh runtime server per start: a killed process's last request can never be
    # mistaken for the next process's.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    server.daemon_threads = True
    # A function killed while parked in its second `next` resets the connection: expected.
    server.handle_error = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return start_and_answer(name, server, base_env)
    finally:
        server.shutdown()
        server.server_close()


def start_and_answer(name, server, base_env):
    run = {"id": str(uuid.uuid4()), "event": EVENTS[name], "next_at": None, "answered_at": None,
           "answered": threading.Event(), "done": threading.Event(), "error": False}
    server.run = run
    env = {**base_env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
           "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
           "AWS_LAMBDA_FUNCTION_VERSION": "1", "RUST_LOG": "warn", "PATH": os.environ.get("PATH", "")}
    started = time.perf_counter()
    proc = subprocess.Popen([os.path.join(BIN_DIR, name)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    answered = run["answered"].wait(30)
    rss = peak_rss_kib(proc.pid) if answered else 0
    run["done"].set()
    proc.kill()
    proc.wait()
    if not answered or run["next_at"] is None:
        raise SystemExit(f"{name} did not answer")
    return (run["next_at"] - started) * 1000, (run["answered_at"] - started) * 1000, rss, run["error"]


def main():
    base_env = env_from(ENV_FILE)
    print("| function | binary | init (median) | first answer (median) | peak RSS | answered |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in EVENTS:
        results = [measure(name, base_env) for _ in range(ROUNDS)]
        init = statistics.median(r[0] for r in results)
        first = statistics.median(r[1] for r in results)
        rss = max(r[2] for r in results)
        size = os.path.getsize(os.path.join(BIN_DIR, name)) / (1024 * 1024)
        kind = "error result" if results[0][3] else "response"
        print(f"| {name} | {size:.1f} MiB | {init:.1f} ms | {first:.1f} ms | {rss / 1024:.1f} MiB | {kind} |")


main()
