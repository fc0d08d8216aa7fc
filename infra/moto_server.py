"""moto's server with two changes.

1. Requests are applied one at a time. DynamoDB applies each conditional write and each
   transaction atomically. moto's threaded server does not lock its in-memory tables, so
   two concurrent conditional writes can both pass their condition. Serialising requests
   restores DynamoDB's guarantee, which the race tests (concurrent refreshes, refresh
   racing revoke) depend on; connections are still accepted concurrently, so requests
   from many clients still interleave.
2. A transaction keeps, for its rollback, only the items it touches. moto deep-copies
   the whole table once per item of every TransactWriteItems, so a table of a few
   thousand items made each transaction slow and the server grow by gigabytes over a
   test run.

Usage: moto_server.py HOST PORT
"""
import copy
import signal
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType

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


class _KeepTables:
    """`copy` as moto's DynamoDB backend sees it, except that a table is not copied:
    transact_write_items' whole-table backup becomes the table itself, and the wrapper
    below keeps what a rollback needs instead."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, dynamodb_models.Table):
            return value
        return copy.deepcopy(value, memo)


def _touched(backend, transact_items):
    """(table, hash, range, a copy of the item or None) for each item of a transaction."""
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        key = op.get("Key") or op.get("Item")
        if table is None or not key or table.hash_key_attr not in key:
            continue
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
        if table.has_range_key and table.range_key_attr not in key:
            continue
        item = table.items.get(hash_value)
        if range_value is not None:
            item = item.get(range_value) if item else None
        saved.append((table, hash_value, range_value, copy.deepcopy(item)))
    return saved


def _restore(saved):
    for table, hash_value, range_value, item in reversed(saved):
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is None:
            table.items[hash_value] = item
        else:
            table.items[hash_value][range_value] = item


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    saved = _touched(self, transact_items)
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(saved)
        raise


dynamodb_models.copy = _KeepTables()
dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = Serialised(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
