#!/usr/bin/env python3
"""reentrant_app.py — a small Dapr app (raw HTTP) hosting actor type Echo
with reentrancy enabled (maxStackDepth 3), which forwards the
Dapr-Reentrancy-Id it is given on the calls it makes back into its own
actor, as a reentrant Dapr app must:
  outer -> calls inner on the same actor, answers what inner answered
  inner -> answers "inner-ok"
  deep  -> calls deep on the same actor until vactord refuses the depth;
           answers the error code it got
  headers -> answers the X-Custom header it got, with a header X-Answer: 42
             (and says whether a dapr-api-token reached it)
  oops  -> answers 409 {"err": "mine"} marked X-DaprErrorResponseHeader
  remind/{name} -> counts the delivery and asks to stop: X-DaprReminderCancel
  count -> answers {"reminders": n, "last": <the last reminder body>}
  early -> starts a reentrant call to "late" and answers before it ends;
           "late" waits, then saves state k=42 through vactord (its turn
           outlives the one it was nested in)
Usage: reentrant_app.py APP_PORT VACTORD_PORT"""
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_PORT, VACTORD_PORT = int(sys.argv[1]), int(sys.argv[2])
delivered = {"reminders": 0, "last": None}


def call_self(actor, method, reentrancy, what="method", body=None):
    c = http.client.HTTPConnection("127.0.0.1", VACTORD_PORT, timeout=30)
    headers = {"Dapr-Reentrancy-Id": reentrancy} if reentrancy else {}
    c.request("POST", f"/v1.0/actors/Echo/{actor}/{what}/{method}" if method
              else f"/v1.0/actors/Echo/{actor}/{what}", body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.read()


class App(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/dapr/config":
            self.reply(200, json.dumps({"entities": ["Echo", "Echo2"],
                                        "reentrancy": {"enabled": True,
                                                       "maxStackDepth": 3}}).encode())
        else:
            self.reply(404, b"{}")

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("/")  # /actors/Echo/{id}/method/{m}[/{name}]
        actor, method = parts[3], parts[5]
        if method == "remind" and parts[6].startswith("fail"):
            failed = delivered.setdefault("failed", {})
            failed[parts[6]] = failed.get(parts[6], 0) + 1
            return self.reply(500, b"not now")
        if method == "remind":
            delivered["reminders"] += 1
            delivered["last"] = json.loads(body)
            return self.reply(200, b"", extra=[("X-DaprReminderCancel", "true")])
        if method == "count":
            return self.reply(200, json.dumps(delivered).encode())
        rid = self.headers.get("Dapr-Reentrancy-Id")
        if method == "headers":
            got = {"custom": self.headers.get("X-Custom"),
                   "token": self.headers.get("dapr-api-token")}
            return self.reply(200, json.dumps(got).encode(), extra=[("X-Answer", "42")])
        if method == "oops":
            return self.reply(409, b'{"err":"mine"}',
                              extra=[("X-DaprErrorResponseHeader", "true")])
        if method == "early":
            threading.Thread(target=call_self, args=(actor, "late", rid)).start()
            time.sleep(0.3)
            return self.reply(200, b"early", "text/plain")
        if method == "late":
            time.sleep(0.8)
            status, _ = call_self(actor, None, None, "state",
                                  json.dumps([{"operation": "upsert",
                                               "request": {"key": "k", "value": 42}}]))
            return self.reply(200, str(status).encode(), "text/plain")
        if method == "inner":
            return self.reply(200, b"inner-ok", "text/plain")
        if method == "outer":
            status, body = call_self(actor, "inner", rid)
            return self.reply(200 if status == 200 else 502, body, "text/plain")
        if method == "deep":
            status, body = call_self(actor, "deep", rid)
            if status == 200:
                return self.reply(200, body)
            return self.reply(200, json.dumps({"refused": json.loads(body)["errorCode"]}).encode())
        self.reply(404, b"{}")

    def do_DELETE(self):
        self.reply(200, b"")


ThreadingHTTPServer(("127.0.0.1", APP_PORT), App).serve_forever()
