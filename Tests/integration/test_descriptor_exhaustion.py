"""Out of file descriptors: the server must neither spin nor stop answering for good."""
import socket
import tempfile
import time
from pathlib import Path

from support import Server, curl, stop_and_check


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_running_out_of_descriptors_pauses_accepting_instead_of_spinning():
    data = Path(tempfile.mkdtemp(prefix="sales-portal-fd-")) / "data"
    data.mkdir()
    server = Server(data_dir=data, max_open_files=64).start()
    idle = []
    try:
        for _ in range(80):  # more than the process may open
            idle.append(socket.create_connection((server.host, server.port), timeout=2))
        time.sleep(0.3)
        before = cpu_ticks(server.process.pid)
        time.sleep(1.0)
        used = cpu_ticks(server.process.pid) - before
        # A spinning accept loop burns ~100 ticks per second; a paused one almost none.
        assert used < 30, f"the server used {used} CPU ticks in 1 s while out of descriptors"
        for sock in idle:
            sock.close()
        idle.clear()
        deadline = time.monotonic() + 5
        status = 0
        while time.monotonic() < deadline:
            status = curl(server.url("/healthz"), timeout=2).status
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, "the server did not answer again once descriptors were free"
    finally:
        for sock in idle:
            sock.close()
        stop_and_check(server)
