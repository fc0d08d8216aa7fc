"""moto's server with one change: requests are applied one at a time.

DynamoDB applies each conditional write and each transaction atomically. moto's threaded
server does not lock its in-memory tables, so two concurrent conditional writes can both
pass their condition. Serialising requests restores DynamoDB's guarantee, which the
race tests (concurrent refreshes, refresh racing revoke) depend on; connections are
still accepted concurrently, so requests from many clients still interleave.

Usage: moto_server.py HOST PORT
"""
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Materialise the body inside the lock: the work happens while iterating.
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = Serialised(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
