// client_test.js — the official Dapr JavaScript SDK (@dapr/dapr, pinned in
// package-lock.json), unchanged, against vactord: a client calls vactord's
// native actors (TaskActor) through ActorProxyBuilder, reads and writes
// actor state and manages reminders and timers through the SDK's actor
// client, and sees a reminder and a timer act on the native actor.
// Usage: VACTORD_PORT=3500 node client_test.js
"use strict";
const assert = require("node:assert/strict");
const {
  DaprClient, ActorProxyBuilder, ActorId, CommunicationProtocolEnum, Temporal,
} = require("@dapr/dapr");
const ActorClient =
  require("@dapr/dapr/actors/client/ActorClient/ActorClient").default;

const port = process.env.VACTORD_PORT || "3500";
const base = `http://127.0.0.1:${port}`;

// Only the class name matters to a proxy: it is the actor type.
class TaskActor {}

let passed = 0;
async function check(name, fn) {
  await fn();
  passed++;
  console.log(`ok - ${name}`);
}

async function eventually(what, fn) {
  for (let i = 0; i < 100; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

async function main() {
  const client = new DaprClient({
    daprHost: "127.0.0.1", daprPort: port,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
  });
  await check("the SDK starts against vactord (GET /v1.0/metadata)",
    () => client.start());

  const task = new ActorProxyBuilder(TaskActor, client).build(new ActorId("sdk-1"));
  await check("proxy: create a native TaskActor", async () => {
    const t = await task.create({ user: "sam", title: "from node" });
    assert.equal(t.owner, "sam");
    assert.equal(t.title, "from node");
  });
  await check("proxy: read it back", async () => {
    const t = await task.get({ user: "sam" });
    assert.equal(t.id, "sdk-1");
    assert.equal(t.status, "open");
  });
  await check("proxy: a failing method rejects", async () => {
    await assert.rejects(task.get({ user: "stranger" }));
  });
  await check("the Task API sees the same task", async () => {
    const r = await fetch(`${base}/v1/users/sam/tasks/sdk-1`);
    assert.equal((await r.json()).title, "from node");
  });

  const id1 = new ActorId("sdk-1"), id2 = new ActorId("sdk-2");
  const actors = new ActorClient("127.0.0.1", port,
    CommunicationProtocolEnum.HTTP, { daprHost: "127.0.0.1", daprPort: port });
  await check("state: a transaction, then get", async () => {
    await actors.actor.stateTransaction("TaskActor", id2, [
      { operation: "upsert", request: { key: "note", value: { n: 1 } } },
      { operation: "upsert", request: { key: "gone", value: "x" } },
      { operation: "delete", request: { key: "gone" } },
    ]);
    assert.deepEqual(await actors.actor.stateGet("TaskActor", id2, "note"), { n: 1 });
  });
  await check("state: a native actor's own key", async () => {
    const doc = await actors.actor.stateGet("TaskActor", id1, "doc");
    assert.equal(doc.title, "from node");
  });

  await check("reminders: register, get, unregister", async () => {
    await actors.actor.registerActorReminder("TaskActor", id1, "later", {
      dueTime: Temporal.Duration.from({ hours: 1 }),
      period: Temporal.Duration.from({ minutes: 30 }),
      data: JSON.stringify({ why: "check" }),
    });
    const r = await actors.actor.reminderGet("TaskActor", id1, "later");
    assert.equal(r.dueTime, "1h");
    assert.equal(r.period, "30m");
    await actors.actor.unregisterActorReminder("TaskActor", id1, "later");
    await assert.rejects(actors.actor.reminderGet("TaskActor", id1, "later"));
  });
  await check("reminders: one fires into the native actor (sam's chat)", async () => {
    await actors.actor.registerActorReminder("TaskActor", id1, "soon", {
      dueTime: Temporal.Duration.from({ milliseconds: 300 }),
    });
    await eventually("the reminder in sam's chat", async () => {
      const r = await fetch(`${base}/v1/users/sam/chat`);
      return (await r.json()).messages.some((m) => m.reminder === "soon");
    });
  });
  await check("timers: one calls a method of the native actor", async () => {
    await actors.actor.registerActorTimer("TaskActor", id1, "finish", {
      callback: "complete",
      dueTime: Temporal.Duration.from({ milliseconds: 200 }),
      data: { user: "sam" },
    });
    await eventually("the task completed by the timer", async () =>
      (await task.get({ user: "sam" })).status === "done");
    await actors.actor.unregisterActorTimer("TaskActor", id1, "finish");
  });
  await client.stop();
  console.log(`${passed} passed`);
}

main().catch((e) => {
  console.error("not ok -", e);
  process.exit(1);
});
