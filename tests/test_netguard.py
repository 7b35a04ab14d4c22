"""The network guard that `make test` runs the notebooks under really refuses connections."""

import os
import subprocess
import sys
from pathlib import Path

GUARD = Path(__file__).resolve().parent / "netguard"
PROBE = """
import socket
try:
    socket.create_connection(("192.0.2.1", 443), timeout=0.5)  # TEST-NET-1: never reachable
except ConnectionRefusedError as err:
    print("blocked", type(err).__name__)
try:
    socket.getaddrinfo("huggingface.co", 443)
except ConnectionRefusedError:
    print("lookup blocked")
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
socket.create_connection(server.getsockname(), timeout=1).close()
print("loopback ok")
"""


def run_probe(guard_on: bool) -> str:
    environ = {**os.environ, "PYTHONPATH": str(GUARD), "COURSE_NETWORK_GUARD": "1" if guard_on else "0"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], check=False, capture_output=True, text=True, env=environ, timeout=60
    )
    return done.stdout + done.stderr


def test_guard_blocks_remote_hosts_and_allows_loopback():
    out = run_probe(guard_on=True)
    assert "blocked NetworkBlockedError" in out and "lookup blocked" in out and "loopback ok" in out


def test_guard_is_inactive_unless_asked():
    assert "NetworkBlockedError" not in run_probe(guard_on=False)
