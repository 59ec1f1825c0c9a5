"""A throwaway ClickHouse for tests and benchmarks: Debian's clickhouse-server (18.16) on
loopback, with its own config, data folder and ports, removed afterwards."""

import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from .live import free_port

SERVER = "/usr/sbin/clickhouse-server"
CONFIG = """<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
  <http_port>{http}</http_port><tcp_port>{tcp}</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/files/</user_files_path>
  <format_schema_path>{d}/schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config><default_profile>default</default_profile>
  <default_database>default</default_database><timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size><uncompressed_cache_size>134217728</uncompressed_cache_size>
</yandex>"""
USERS = """<yandex><profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>
  <quota>default</quota></default></users><quotas><default></default></quotas></yandex>"""


@contextmanager
def throwaway_clickhouse():
    """Yields the server's HTTP URL."""
    if not Path(SERVER).exists():
        raise RuntimeError("clickhouse-server is not installed: run scripts/prepare-tests.sh")
    home = Path(tempfile.mkdtemp(prefix="clickhouse-"))
    http = free_port()
    (home / "config.xml").write_text(CONFIG.format(d=home, http=http, tcp=free_port()))
    (home / "users.xml").write_text(USERS)
    process = subprocess.Popen(
        [SERVER, f"--config-file={home / 'config.xml'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{http}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "?query=SELECT%201", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = home / "error.log"
                    raise RuntimeError(
                        "clickhouse-server did not start: " + (log.read_text() if log.exists() else "")
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)
