"""Opens N keep-alive connections to a server, makes one GET /healthz on each, then holds
them idle until stdin closes (or --hold-seconds pass). Prints "ready N" once all are idle.

usage: idle_clients.py HOST PORT N [--hold-seconds S]
"""
import argparse
import resource
import selectors
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--hold-seconds", type=float, default=120)
    parser.add_argument("--open-timeout", type=float, default=60)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.count + 100)), hard))

    request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
    selector = selectors.DefaultSelector()
    held = []
    pending = 0
    deadline = time.monotonic() + args.open_timeout
    batch = 500
    opened = 0
    while (opened < args.count or pending) and time.monotonic() < deadline:
        # Open in bounded batches so the listen backlog is never flooded.
        while opened < args.count and pending < batch:
            connection = socket.create_connection((args.host, args.port), timeout=10)
            connection.setblocking(False)
            connection.sendall(request)
            selector.register(connection, selectors.EVENT_READ, bytearray())
            opened += 1
            pending += 1
        for key, _ in selector.select(timeout=1):
            data = key.fileobj.recv(4096)
            key.data.extend(data)
            if not data:
                raise SystemExit("a connection was closed before its response")
            head, _, body = bytes(key.data).partition(b"\r\n\r\n")
            if not _:
                continue
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(body) >= length:
                selector.unregister(key.fileobj)
                held.append(key.fileobj)
                pending -= 1
    if len(held) < args.count:
        raise SystemExit(f"only {len(held)} of {args.count} connections became idle in time")
    print(f"ready {len(held)}", flush=True)
    # Hold until told to stop (stdin closes) or the hold time ends.
    stop = selectors.DefaultSelector()
    stop.register(sys.stdin, selectors.EVENT_READ)
    stop.select(timeout=args.hold_seconds)
    alive = 0
    for connection in held:
        try:
            connection.setblocking(False)
            if connection.recv(1) == b"":
                continue
        except BlockingIOError:
            alive += 1
        except OSError:
            continue
    print(f"alive {alive}", flush=True)


if __name__ == "__main__":
    main()
