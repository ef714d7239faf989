// host_test.js — drives host_app.js's CounterActor through vactord with
// the SDK's actor proxy and checks what the app recorded.
//   phase "run": concurrent calls to one actor are serialized (the count
//     adds up, no turn overlapped), calls to different actors run in
//     parallel, a reminder and a timer fire into the app, idle actors are
//     deactivated through the app;
//   phase "after-restart": the state the actor saved survived vactord's
//     restart.
// Usage: VACTORD_PORT=3500 node host_test.js run|after-restart
"use strict";
const assert = require("node:assert/strict");
const { DaprClient, ActorProxyBuilder, ActorId, CommunicationProtocolEnum } =
  require("@dapr/dapr");

class CounterActor {}

let passed = 0;
async function check(name, fn) {
  await fn();
  passed++;
  console.log(`ok - ${name}`);
}

async function eventually(what, fn, tries = 100) {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

async function main() {
  const client = new DaprClient({
    daprHost: "127.0.0.1", daprPort: process.env.VACTORD_PORT,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
  });
  await client.start();
  const actor = (id) =>
    new ActorProxyBuilder(CounterActor, client).build(new ActorId(id));
  const stats = () => actor("probe").stats();

  if (process.argv[2] === "after-restart") {
    await check("the state the app saved survived vactord's restart", async () =>
      assert.equal((await actor("one").get()).count, 40));
    console.log(`${passed} passed`);
    return;
  }
  await check("vactord reaches the app's actor type", async () =>
    eventually("the app hosting CounterActor", async () => {
      try { await actor("one").get(); return true; } catch { return false; }
    }));
  await check("40 concurrent calls to one actor: serialized, none lost", async () => {
    await Promise.all(Array.from({ length: 40 }, () => actor("one").increment(1)));
    assert.equal((await actor("one").get()).count, 40);
    assert.equal((await stats()).overlaps, 0);
  });
  await check("calls to different actors run in parallel", async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => actor(`p${i}`).increment(1)));
    assert.ok((await stats()).maxParallel > 1);
  });
  await check("a reminder fires into the app", async () => {
    await actor("r").remindMe();
    await eventually("the reminder", async () => (await stats()).reminders >= 1);
  });
  await check("a timer fires into the app, periodically", async () => {
    await actor("t").startTimer();
    await eventually("two ticks", async () => (await stats()).ticks >= 2);
  });
  await check("idle actors are deactivated through the app (its actorIdleTimeout)", async () =>
    eventually("one deactivated", async () =>
      (await stats()).deactivated.includes("one"), 150));
  console.log(`${passed} passed`);
}

main().catch((e) => {
  console.error("not ok -", e);
  process.exit(1);
});
