"""Requests from the sandbox to the host: ``rpc`` frames out, ``rpc_result`` frames back (PROTOCOL.md §2).

Replies arrive on the runtime's private duplicate of the original stdin, read by one daemon thread that hands
each reply to whoever waits for it: an asyncio future (``call``) or a blocked thread (``call_sync``). Requests
are independent, so ``asyncio.gather`` over several tool calls runs them concurrently on the host.
"""

import _thread
import itertools
import os

import mcp_bridge_relay as _frames

READ_SIZE = 1 << 20


class RpcFailure(Exception):
    """A request the host refused or could not serve: ``kind`` is ``error`` or ``policy_denied``."""

    def __init__(self, message, kind="error"):
        super().__init__(message)
        self.kind = kind


class RpcClient:
    """One run's request channel: ``send`` writes a frame, replies are read from ``fd``.

    In a session the same stream also brings the next calls' ``run`` frames: those go to ``on_run``, and
    ``on_run(None)`` says the stream has ended.
    """

    def __init__(self, send, fd, on_run=None):
        self._send = send
        self._fd = fd
        self._on_run = on_run
        self._ids = itertools.count(1)
        # _thread, not threading: a run that calls no tool never imports threading (functools, collections).
        self._lock = _thread.allocate_lock()
        self._waiting = {}
        self._closed = None
        self._reader = None

    def start(self):
        """Start reading now, not at the first request (a session waits here for its next call)."""
        with self._lock:
            self._start_reader()

    def _start_reader(self):
        # Caller holds the lock.
        if self._reader is None:
            import threading

            self._reader = threading.Thread(target=self._read_replies, name="mcp-bridge-rpc", daemon=True)
            self._reader.start()

    def _read_replies(self):
        # Chunks of the current line are joined once its newline arrives: a reply of many MB costs one copy.
        pending = []
        while True:
            try:
                data = os.read(self._fd, READ_SIZE)
            except OSError:
                data = b""
            if not data:
                break
            start = 0
            while (end := data.find(b"\n", start)) >= 0:
                pending.append(data[start:end])
                line = b"".join(pending)
                pending = []
                if line.strip():
                    self._deliver(line)
                start = end + 1
            if start < len(data):
                pending.append(data[start:])
        self._close("RPC channel closed")
        if self._on_run is not None:
            self._on_run(None)

    def _deliver(self, line):
        try:
            reply = _frames.decode(line)
            if self._on_run is not None and reply.get("t") == "run":
                self._on_run(reply)
                return
            request_id = reply["id"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # not a reply: nothing waits for it
        with self._lock:
            waiter = self._waiting.pop(request_id, None)
        if waiter is not None:
            waiter(reply)

    def _close(self, reason):
        with self._lock:
            self._closed = reason
            waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            waiter({"ok": False, "error": reason})

    def _request(self, method, params, waiter):
        with self._lock:
            request_id = next(self._ids)
            closed = self._closed
            if closed is None:
                self._waiting[request_id] = waiter
                self._start_reader()
        # Sent even when the channel has closed, so that a request that cannot be sent at all (a value JSON
        # cannot hold, a frame over the limit) is always that error, never a race with the channel's end.
        try:
            self._send({"t": "rpc", "id": request_id, "method": method, "params": params})
        except BaseException:
            with self._lock:
                self._waiting.pop(request_id, None)
            raise
        if closed is not None:
            raise RpcFailure(closed)

    @staticmethod
    def _outcome(reply):
        if reply.get("ok"):
            return reply.get("result")
        raise RpcFailure(str(reply.get("error") or "RPC error"), reply.get("kind") or "error")

    async def call(self, method, params):
        """Send a request and await its result (raises RpcFailure)."""
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(reply):
            if not future.done():
                future.set_result(reply)

        self._request(method, params, lambda reply: loop.call_soon_threadsafe(settle, reply))
        return self._outcome(await future)

    def call_sync(self, method, params):
        """Send a request and block until its result (raises RpcFailure)."""
        import threading

        done = threading.Event()
        box = []

        def settle(reply):
            box.append(reply)
            done.set()

        self._request(method, params, settle)
        done.wait()
        return self._outcome(box[0])


class Unavailable:
    """The client of a runtime without a host channel (tests, or before the run starts)."""

    def _fail(self):
        raise RpcFailure("the host channel is not available")

    async def call(self, method, params):
        self._fail()

    def call_sync(self, method, params):
        self._fail()
