"""Refuse every non-loopback network connection in this Python process (tests only).

`make test` puts this folder on PYTHONPATH with COURSE_NETWORK_GUARD=1, so the notebooks' kernels
and the book build run under it: any attempt to reach the Hub (or anything else off this machine)
raises instead of silently falling back, and the run fails.
"""

import ipaddress
import os
import socket

if os.environ.get("COURSE_NETWORK_GUARD") == "1":
    _connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    class NetworkBlockedError(ConnectionRefusedError):
        """A connection off this machine was attempted under COURSE_NETWORK_GUARD=1."""

    def _is_local(host) -> bool:
        if host in ("localhost", "", None) or isinstance(host, bytes):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def _check(address) -> None:
        if isinstance(address, tuple) and not _is_local(address[0]):
            raise NetworkBlockedError(f"network access to {address!r} refused: the offline profiles must not connect")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address)
        return _connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address)
        return _connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            raise NetworkBlockedError(f"name lookup of {host!r} refused: the offline profiles must not connect")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
