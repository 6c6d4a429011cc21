"""A TCP proxy between a leader's lock connection and PostgreSQL that a test can freeze
(bytes stop both ways, sockets stay open: a partition, a frozen host) or cut (the database
side is closed while the leader's side stays open and silent: the leader's peer vanished
without it noticing)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict


class LockProxy:
    """Listens on 127.0.0.1 and forwards to the PostgreSQL server of ``database_url``
    (TCP, or the Unix socket of an embedded server)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._parts = {k: str(v) for k, v in conninfo_to_dict(database_url).items() if v}
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._upstreams: list[asyncio.StreamWriter] = []
        self._clients: list[asyncio.StreamWriter] = []
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Start listening; returns the URL that connects through the proxy."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = quote(self._parts.get("user", "postgres"), safe="")
        password = self._parts.get("password")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{port}/{self._parts.get('dbname', 'postgres')}"

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host = self._parts.get("host", "127.0.0.1")
        port = int(self._parts.get("port", "5432"))
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open_upstream()
        self._clients.append(writer)
        self._upstreams.append(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        if self._flowing.is_set():
            sink.close()

    def freeze(self) -> None:
        """Stop forwarding in both directions; every socket stays open."""
        self._flowing.clear()

    def cut(self) -> None:
        """Close the database side of every connection (PostgreSQL sees its client gone and
        releases its locks); the client side stays open and says nothing more."""
        self._flowing.clear()
        for writer in self._upstreams:
            writer.close()

    async def close(self) -> None:
        """Stop listening and close everything."""
        if self._server is not None:
            self._server.close()
        for writer in [*self._upstreams, *self._clients]:
            writer.close()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
