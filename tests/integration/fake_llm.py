#!/usr/bin/env python3
"""fake_llm.py — a small OpenAI-compatible chat-completions endpoint for
vactord's tests: POST /v1/chat/completions. It reads the last user message:
  "slow ..."  sleeps 5 s before answering (to test the timeout)
  "fail ..."  answers 500
  "add X"     answers a tool call add_task {"title": X}
  "list ..."  answers a tool call list_tasks {}
  "due today" answers a tool call list_tasks {"due": "today"}
  "delete X"  answers a tool call delete_task {"task": X}
  anything else: a plain text answer "echo: <message>".
After a tool call, the second request ends with the call and its result:
it answers "All done: <result>", or 500 when the user's message began
"add quietly" (the server must then answer with the result itself).
It checks the request: model, messages, tools, the bearer key, and that a
tool result follows the call it answers.
Usage: fake_llm.py PORT KEY"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, KEY = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer " + KEY:
            return self.reply(401, {"error": "bad key"})
        if req.get("model") != "fake-model" or not req.get("tools"):
            return self.reply(400, {"error": "bad request"})
        msgs = req["messages"]
        text = [m for m in msgs if m["role"] == "user"][-1]["content"]
        if msgs[-1]["role"] == "tool":
            asked = msgs[-2]
            if (asked["role"] != "assistant" or
                    asked["tool_calls"][0]["id"] != msgs[-1]["tool_call_id"]):
                return self.reply(400, {"error": "a tool result without its call"})
            if text.startswith("add quietly"):
                return self.reply(500, {"error": "model failed"})
            return self.reply(200, {"id": "y", "object": "chat.completion",
                                    "choices": [{"index": 0, "message": {
                                        "role": "assistant",
                                        "content": "All done: " + msgs[-1]["content"]},
                                        "finish_reason": "stop"}]})
        if text.startswith("slow"):
            time.sleep(5)
        if text.startswith("fail"):
            return self.reply(500, {"error": "model failed"})
        message = {"role": "assistant", "content": "echo: " + text}
        call = None
        if text.startswith("add "):
            call = ("add_task", {"title": text[4:]})
        elif text.startswith("list"):
            call = ("list_tasks", {})
        elif text.startswith("due today"):
            call = ("list_tasks", {"due": "today"})
        elif text.startswith("delete "):
            call = ("delete_task", {"task": text[7:]})
        if call:
            message = {"role": "assistant", "content": "Sure.",
                       "tool_calls": [{"id": "c1", "type": "function",
                                       "function": {"name": call[0],
                                                    "arguments": json.dumps(call[1])}}]}
        self.reply(200, {"id": "x", "object": "chat.completion",
                         "choices": [{"index": 0, "message": message,
                                      "finish_reason": "stop"}]})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
