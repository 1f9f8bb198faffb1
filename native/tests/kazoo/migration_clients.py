#!/usr/bin/env python3
"""Clients for the rolling-migration test (native/tests/migration.rs), with kazoo.

    migration_clients.py HOSTS OUT_DIR [--clients N] [--in-flight K]

Runs N kazoo clients against HOSTS (a connect string of every server) until the file
OUT_DIR/stop appears, then reports. Each client keeps one session for the whole run and,
in a loop: creates /mig/c<i>/n<seq> (the data is the sequence number), reads it back, and
now and then sets data on it; it never retries a write it is unsure of under a new name.

Written to OUT_DIR:
  acked-<i>.txt     one line per create that was acknowledged (path)
  report.json       per client: acknowledged creates, unsure ones (a connection loss after
                    sending: may or may not have happened), outages (start, end, seconds, the
                    error), every connection-state change with its time, and whether the
                    session was ever lost (expired)
All times are time.time() (wall clock, seconds), to be lined up with the test's swaps.
"""
import json
import os
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError


def client(i, hosts, out, stop, report):
    r = report[i] = {
        "acked": 0,
        "unsure": 0,
        "reads": 0,
        "outages": [],
        "states": [],
        "lost": False,
        "errors": 0,
    }
    zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "delay": 0.05,
                                                                  "max_delay": 0.2})

    closing = []

    def listener(state):
        r["states"].append([time.time(), str(state)])
        # Closing the session at the end reports LOST too: only an expiry before it counts.
        if state == KazooState.LOST and not closing:
            r["lost"] = True

    zk.add_listener(listener)
    zk.start(timeout=30)
    zk.ensure_path("/mig/c%d" % i)
    acked = open(os.path.join(out, "acked-%d.txt" % i), "a", buffering=1)
    seq = 0
    down_since = None
    down_why = None
    while not os.path.exists(stop):
        path = "/mig/c%d/n%07d" % (i, seq)
        try:
            zk.create(path, str(seq).encode())
            acked.write(path + "\n")
            r["acked"] += 1
            data, _ = zk.get(path)
            assert data == str(seq).encode(), (path, data)
            r["reads"] += 1
            if seq % 10 == 0:
                zk.set(path, b"set-%d" % seq)
            seq += 1
            if down_since is not None:
                now = time.time()
                r["outages"].append([down_since, now, now - down_since, down_why])
                down_since = None
        except NodeExistsError:
            # An earlier try that was unsure did happen: it counts as acknowledged now.
            acked.write(path + "\n")
            r["acked"] += 1
            seq += 1
        except (ConnectionLoss, OperationTimeoutError, KazooTimeoutError, SessionExpiredError,
                KazooException) as e:
            r["errors"] += 1
            if down_since is None:
                down_since = time.time()
                down_why = type(e).__name__
            if isinstance(e, (ConnectionLoss, OperationTimeoutError, KazooTimeoutError)):
                r["unsure"] += 1
            time.sleep(0.02)
    if down_since is not None:
        now = time.time()
        r["outages"].append([down_since, now, now - down_since, down_why])
    acked.close()
    closing.append(True)
    zk.stop()
    zk.close()


def main():
    hosts, out = sys.argv[1], sys.argv[2]
    n = 4
    if "--clients" in sys.argv:
        n = int(sys.argv[sys.argv.index("--clients") + 1])
    stop = os.path.join(out, "stop")
    report = {}
    threads = [threading.Thread(target=client, args=(i, hosts, out, stop, report))
               for i in range(n)]
    for t in threads:
        t.start()
    open(os.path.join(out, "started"), "w").close()
    for t in threads:
        t.join()
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
