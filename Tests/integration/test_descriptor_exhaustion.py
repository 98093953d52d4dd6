"""Out of file descriptors: the server must neither spin nor stop answering for good."""
import socket
import tempfile
import time
from pathlib import Path

from support import Server, curl, stop_and_check


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def open_descriptors(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def wait_until(what: str, condition, timeout: float = 30.0, every: float = 0.05):
    """Polls `condition` until it returns something true; fails loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def test_running_out_of_descriptors_pauses_accepting_instead_of_spinning():
    data = Path(tempfile.mkdtemp(prefix="sales-portal-fd-")) / "data"
    data.mkdir()
    server = Server(data_dir=data, max_open_files=64).start()
    idle = []
    try:
        for _ in range(80):  # more than the process may open
            idle.append(socket.create_connection((server.host, server.port), timeout=2))
        # The precondition: the process holds every descriptor it may open, so accept fails.
        pid = server.process.pid
        wait_until("the server at its limit of 64 descriptors", lambda: open_descriptors(pid) >= 64)
        assert open_descriptors(pid) == 64
        before = cpu_ticks(pid)
        time.sleep(1.0)   # a window of measurement, not a wait for anything
        used = cpu_ticks(server.process.pid) - before
        # A spinning accept loop burns ~100 ticks per second; a paused one almost none.
        assert used < 30, f"the server used {used} CPU ticks in 1 s while out of descriptors"
        for sock in idle:
            sock.close()
        idle.clear()
        wait_until("the server answering again once descriptors were free",
                   lambda: curl(server.url("/healthz"), timeout=5).status == 200, timeout=60, every=0.1)
    finally:
        for sock in idle:
            sock.close()
        stop_and_check(server)
