// host_app.js — an app that hosts a Dapr actor type with the official SDK
// (DaprServer + AbstractActor), unchanged, behind vactord instead of a
// Dapr sidecar. CounterActor keeps its count in actor state, and the app
// records what vactord must guarantee: no two turns of one actor at once,
// turns of different actors at once, reminders and timers delivered (one
// that ends at its ttl),
// deactivations. The "stats" method (any id) reports them, with the
// instance name APP_INSTANCE (optional; "" without it) so that a test
// with one app behind each node of a cluster can tell the apps apart.
// Usage: APP_PORT=3000 DAPR_HTTP_PORT=3500 [APP_INSTANCE=n1] node host_app.js
"use strict";
const { DaprServer, AbstractActor, Temporal } = require("@dapr/dapr");

const running = new Map(); // actor id -> turns running now
const stats = { overlaps: 0, maxParallel: 0, parallel: 0, reminders: 0,
                ticks: 0, briefTicks: 0, deactivated: [],
                instance: process.env.APP_INSTANCE || "" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class CounterActor extends AbstractActor {
  async turn(fn) {
    const id = this.getActorId().getId();
    const now = (running.get(id) || 0) + 1;
    running.set(id, now);
    if (now > 1) stats.overlaps++;
    stats.parallel++;
    stats.maxParallel = Math.max(stats.maxParallel, stats.parallel);
    try {
      return await fn();
    } finally {
      running.set(id, running.get(id) - 1);
      stats.parallel--;
    }
  }

  async increment(n) {
    return this.turn(async () => {
      const sm = this.getStateManager();
      const [found, count] = await sm.tryGetState("count");
      await sleep(20); // a read-modify-write that a second turn would break
      const next = (found ? count : 0) + n;
      await sm.setState("count", next);
      return { count: next };
    });
  }

  async get() {
    const [found, count] = await this.getStateManager().tryGetState("count");
    return { count: found ? count : 0 };
  }

  async remindMe() {
    await this.registerActorReminder("ping",
      Temporal.Duration.from({ milliseconds: 200 }), undefined, undefined,
      JSON.stringify({ hello: "reminder" }));
    return { ok: true };
  }

  async receiveReminder(data) {
    if (data && data.hello === "reminder") stats.reminders++;
  }

  async startTimer() {
    await this.registerActorTimer("tick", "onTick",
      Temporal.Duration.from({ milliseconds: 100 }),
      Temporal.Duration.from({ seconds: 1 }), undefined, "tick"); // the floor
    return { ok: true };
  }

  async onTick(data) {
    if (data === "tick") stats.ticks++;
  }

  // Every second from now, for 2.5 s (the SDK's ttl): three fires at most.
  async startBriefTimer() {
    await this.registerActorTimer("brief", "onBrief",
      Temporal.Duration.from({ milliseconds: 0 }),
      Temporal.Duration.from({ seconds: 1 }),
      Temporal.Duration.from({ milliseconds: 2500 }), "brief");
    return { ok: true };
  }

  async onBrief(data) {
    if (data === "brief") stats.briefTicks++;
  }

  async stats() {
    return stats;
  }

  async onDeactivate() {
    stats.deactivated.push(this.getActorId().getId());
  }
}

async function main() {
  const server = new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: process.env.APP_PORT,
    clientOptions: { daprHost: "127.0.0.1", daprPort: process.env.DAPR_HTTP_PORT,
                     actor: { actorIdleTimeout: "2s" } }, // vactord applies it
  });
  await server.actor.init();
  server.actor.registerActor(CounterActor);
  await server.start();
  console.log(`host app started${stats.instance ? ` (${stats.instance})` : ""}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
