// host_test.js — drives host_app.js's CounterActor through vactord with
// the SDK's actor proxy and checks what the app recorded.
//   phase "run": concurrent calls to one actor are serialized (the count
//     adds up, no turn overlapped), calls to different actors run in
//     parallel, a reminder and a timer fire into the app, a timer ends at
//     its ttl, idle actors are
//     deactivated through the app;
//   phase "after-restart": the state the actor saved survived vactord's
//     restart.
// With one app behind each node of a cluster (host_app.js with
// APP_INSTANCE set), EXPECT_APPS=N first calls probe-0, probe-1, ... (at
// most 200) until N different apps have answered, and reads the stats of
// all N (summed; the largest maxParallel) instead of one app's; the
// parallel check uses 8 actors per app; after the restart, the N apps are
// found again and the state of those 8 per app survived too. READ_PORTS
// (p1,p2,...) reads the counted actor's state through each of those
// nodes as well.
// Usage: VACTORD_PORT=3500 [EXPECT_APPS=3] [READ_PORTS=3501,3502]
//          node host_test.js run|after-restart
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
  const apps = Number(process.env.EXPECT_APPS || 0); // 0: one app, as ever
  const width = 8 * Math.max(apps, 1);
  const readers = (process.env.READ_PORTS || "").split(",").filter(Boolean)
    .map((port) => new DaprClient({
      daprHost: "127.0.0.1", daprPort: port,
      communicationProtocol: CommunicationProtocolEnum.HTTP,
    }));
  let probes = ["probe"];
  const stats = async () => {
    const all = await Promise.all(probes.map((id) => actor(id).stats()));
    if (all.length === 1) return all[0];
    const sum = (k) => all.reduce((n, s) => n + s[k], 0);
    return { overlaps: sum("overlaps"), reminders: sum("reminders"),
             ticks: sum("ticks"), briefTicks: sum("briefTicks"),
             maxParallel: Math.max(...all.map((s) => s.maxParallel)),
             deactivated: all.flatMap((s) => s.deactivated) };
  };
  const findApps = async () => {
    const seen = new Map(); // app instance -> the first probe it hosts
    for (let i = 0; i < 200 && seen.size < apps; i++) {
      const s = await actor(`probe-${i}`).stats();
      if (!seen.has(s.instance)) seen.set(s.instance, `probe-${i}`);
    }
    console.log(`# apps seen: ${[...seen].map(([a, id]) => `${a} (${id})`).join(", ")}`);
    assert.equal(seen.size, apps);
    assert.ok(!seen.has(""), "an app without APP_INSTANCE");
    probes = [...seen.values()];
  };
  const countEverywhere = async (id, want) => {
    assert.equal((await actor(id).get()).count, want);
    for (const c of readers)
      assert.equal((await new ActorProxyBuilder(CounterActor, c)
        .build(new ActorId(id)).get()).count, want);
  };

  if (process.argv[2] === "after-restart") {
    if (apps)
      await check(`actors run in all ${apps} apps again`, async () =>
        eventually("an answer from the apps", async () => {
          try { await actor("one").get(); return true; } catch { return false; }
        }).then(findApps));
    await check("the state the app saved survived vactord's restart", async () =>
      assert.equal((await actor("one").get()).count, 40));
    if (readers.length)
      await check("and reads the same through the other nodes", () =>
        countEverywhere("one", 40));
    if (apps)
      await check(`the state of ${width} more actors (p0, p1, ...) survived too`, async () => {
        for (let i = 0; i < width; i++)
          assert.equal((await actor(`p${i}`).get()).count, 1, `p${i}`);
      });
    console.log(`${passed} passed`);
    return;
  }
  await check("vactord reaches the app's actor type", async () =>
    eventually("the app hosting CounterActor", async () => {
      try { await actor("one").get(); return true; } catch { return false; }
    }));
  if (apps)
    await check(`actors run in all ${apps} apps (probe-0, probe-1, ...)`, findApps);
  await check("40 concurrent calls to one actor: serialized, none lost", async () => {
    await Promise.all(Array.from({ length: 40 }, () => actor("one").increment(1)));
    assert.equal((await actor("one").get()).count, 40);
    assert.equal((await stats()).overlaps, 0);
  });
  if (readers.length)
    await check("the count reads the same through the other nodes", () =>
      countEverywhere("one", 40));
  await check("calls to different actors run in parallel", async () => {
    await Promise.all(Array.from({ length: width }, (_, i) => actor(`p${i}`).increment(1)));
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
  await check("a timer with a ttl fires, then ends at it", async () => {
    await actor("b").startBriefTimer();
    await eventually("a brief tick", async () => (await stats()).briefTicks >= 1);
    await new Promise((r) => setTimeout(r, 3000)); // past its ttl
    const n = (await stats()).briefTicks;
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await stats()).briefTicks, n);
    assert.ok(n >= 1 && n <= 3, `${n} fires in 2.5 s, one a second`);
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
