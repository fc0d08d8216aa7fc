"""`make dev`'s stand-in for the EventBridge schedule: invokes a function through the
local Lambda invoke API (cargo lambda watch) every minute, as AWS does in the deployed
stack, and prints each answer.

Usage: every_minute.py INVOKE_URL
"""
import sys
import time
import urllib.request

url = sys.argv[1]
while True:
    time.sleep(60)
    try:
        request = urllib.request.Request(url, data=b"{}", method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            print(time.strftime("%H:%M:%S"), answer.read().decode(), flush=True)
    except Exception as err:  # the next minute tries again, as the schedule would
        print(time.strftime("%H:%M:%S"), "failed:", err, flush=True)
