"""A PostgreSQL cluster of a test's own, which the test may stop and start again under a
running bot: never the machine's server, which the other tests share.

Made with the machine's own PostgreSQL binaries (Debian's /usr/lib/postgresql/N/bin)
in a temporary directory, on a free loopback port, with trust authentication. initdb
refuses to run as root, so under root the cluster is made and run as the `postgres`
user.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.helpers import closed_port


class NoBinaries(Exception):
    """This machine has no PostgreSQL server binaries to make a cluster with."""


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major)
    if not found:
        raise NoBinaries("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def _major(initdb: Path) -> int:
    version = initdb.parent.parent.name
    return int(version) if version.isdigit() else 0


class Cluster:
    """A cluster in `root`, listening on 127.0.0.1:`port` once started."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self._bin = _bindir()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as, str(self._bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(self.root / "server.log")
        await asyncio.to_thread(
            self._run, "pg_ctl", "start", "-w", "-D", str(self.data), "-l", log, "-o", options
        )

    async def stop(self) -> None:
        await asyncio.to_thread(
            self._run, "pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data)
        )


@asynccontextmanager
async def private_cluster() -> AsyncIterator[Cluster]:
    """A new cluster, started; stopped and removed at the end. NoBinaries without them."""
    root = Path(tempfile.mkdtemp(prefix="newsbrief-pg-", dir="/tmp"))
    try:
        cluster = Cluster(root, closed_port())
        await asyncio.to_thread(cluster.init)
        await cluster.start()
        try:
            yield cluster
        finally:
            if (cluster.data / "postmaster.pid").exists():
                await cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
