#!/usr/bin/env python3
"""sse_events.py — reads GET /dashboard/events for a few seconds, as a
browser's EventSource would parse it, and checks every event: each one
ends with a blank line and its data is one JSON object with a numeric "t"
that grows from event to event. Prints the count and the size of the
largest; exits 1 on the first bad event, or with fewer than MIN events.
Usage: sse_events.py URL SECONDS MIN_EVENTS"""
import json
import sys
import time
import urllib.request


def main():
    url, seconds, min_events = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    req = urllib.request.Request(url + "/dashboard/events",
                                 headers={"Accept": "text/event-stream"})
    raw = b""
    until = time.monotonic() + seconds
    with urllib.request.urlopen(req, timeout=30) as res:
        ctype = res.headers.get("Content-Type", "")
        if not ctype.startswith("text/event-stream"):
            sys.exit(f"Content-Type {ctype!r}")
        while time.monotonic() < until:
            chunk = res.read1(65536)
            if not chunk:
                break
            raw += chunk
    # Only what ended with a blank line is an event; the rest was cut.
    blocks = raw.replace(b"\r\n", b"\n").split(b"\n\n")[:-1]
    events, largest, last_t = 0, 0, None
    for block in blocks:
        data = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if not data:
            continue  # retry:, comments
        text = b"\n".join(data)
        try:
            ev = json.loads(text)
        except ValueError as e:
            sys.exit(f"event {events + 1} ({len(text)} bytes) is not JSON: {e}: ...{text[-80:]!r}")
        if not isinstance(ev, dict) or not isinstance(ev.get("t"), (int, float)):
            sys.exit(f"event {events + 1} has no numeric t")
        if last_t is not None and ev["t"] <= last_t:
            sys.exit(f"event {events + 1}: t {ev['t']} after {last_t}")
        last_t = ev["t"]
        events += 1
        largest = max(largest, len(text))
    print(f"# {events} events, the largest {largest} bytes")
    if events < min_events:
        sys.exit(f"{events} complete events, fewer than {min_events}")


if __name__ == "__main__":
    main()
