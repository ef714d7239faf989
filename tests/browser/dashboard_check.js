// dashboard_check.js — drives vactord's dashboard (/dashboard) in headless
// chromium (cdp.js) for tests/integration/dashboard_test.sh; one phase per
// run, each with a fresh browser profile:
//
//   live URL WORK [SHOT]  the numbers are live (requests and TaskActor
//                         activations rise under the script's load), the
//                         actor browser pages, finds and opens a known
//                         task actor; a 1280x800 screenshot to SHOT after
//                         about 10 s of load; then, once the load has
//                         stopped (WORK/load-stop, WORK/load-done), the
//                         TaskActor count on the page equals /metrics'.
//   disconnect URL WORK   the page says "disconnected" while vactord is
//                         down (asks the script to stop it: WORK/please-stop)
//                         and is live again once it is back (WORK/restarted).
//   token URL TOKEN       without the token the page is refused (401);
//                         /dashboard?token=T sets the cookie and the page
//                         and its API calls work.
//
// Prints "ok - ..." / "not ok - ..." per step, "# ..." for details, and
// exits 1 if a step failed. Every wait is bounded (generous, for sanitizer
// builds). Known data (made by the script): tasks dash-known-00..59 of
// dashowner (TaskActors dashowner:dash-known-00..59).
'use strict';

const fs = require('fs');
const path = require('path');
const os = require('os');
const { launch } = require('./cdp.js');

const WAIT_MS = 120000; // the longest any one thing may take
const KNOWN_PREFIX = 'dashowner:dash-known-';
const KNOWN_COUNT = 60; // more than one page (the page asks for 50)

let failed = 0;
function report(ok, name, detail) {
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}`);
  if (!ok) {
    failed++;
    if (detail) console.log('# ' + String(detail).split('\n').join('\n# '));
  }
}

// Runs one step: fn resolves (pass) or throws (fail, with why); true if
// it passed. Once a step marked `needed` fails, the later steps of the
// phase fail at once instead of each waiting out its timeout.
let blocked = null;
async function step(name, fn, needed = false) {
  if (blocked) {
    report(false, name, `skipped: "${blocked}" failed`);
    return false;
  }
  try {
    await fn();
    report(true, name);
    return true;
  } catch (e) {
    report(false, name, e && e.stack ? e.stack : e);
    if (needed) blocked = name;
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(file, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > until) throw new Error(`no ${file} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

// The expression reading the data-value of the element at selector
// (null when there is none or it is empty).
const valueAt = (selector) =>
  `(() => { const e = document.querySelector(${JSON.stringify(selector)});
     return e && e.dataset.value !== '' && e.dataset.value !== undefined ? Number(e.dataset.value) : null; })()`;
const TASK_ACTORS = '#by-type tr[data-type="TaskActor"] [data-field="active"]';

// vactor_active_actors_by_type{type="TaskActor"} from /metrics.
async function metricsTaskActors(url, token) {
  const res = await fetch(url + '/metrics', { headers: token ? { 'dapr-api-token': token } : {} });
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`);
  const m = /^vactor_active_actors_by_type\{type="TaskActor"\} (\d+)/m.exec(await res.text());
  if (!m) throw new Error('/metrics has no vactor_active_actors_by_type{type="TaskActor"}');
  return Number(m[1]);
}

async function withPage(fn) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vactor-chromium-'));
  let browser;
  try {
    browser = await launch({ userDataDir: profile });
    const page = await browser.newPage(1280, 800);
    await fn(page);
    await step('no script error, console error or CSP violation on the page', async () => {
      if (page.problems.length) throw new Error(page.problems.join('\n'));
    });
  } finally {
    if (browser) await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function openLive(page, url) {
  await page.goto(url + '/dashboard');
  await page.waitFor(`document.getElementById('conn-status').dataset.state === 'live'`, WAIT_MS,
    'the stream to be live');
}

// The actor browser: page through the known tasks, open one.
async function actorBrowser(page) {
  await step('the type picker lists TaskActor (from /v1/actors)', () =>
    page.waitFor(`!!document.querySelector('#browser-type option[value="TaskActor"]')`, WAIT_MS,
      'a TaskActor option'));
  const search = (prefix) => page.eval(`(() => {
      document.getElementById('browser-type').value = 'TaskActor';
      document.getElementById('browser-prefix').value = ${JSON.stringify(prefix)};
      document.getElementById('browser-results').textContent = '';
      document.getElementById('browser-search').click();
      return true; })()`);
  const ids = `Array.from(document.querySelectorAll('#browser-results li[data-actor-id]')).map((li) => li.dataset.actorId)`;
  const known = (i) => KNOWN_PREFIX + String(i).padStart(2, '0');

  await step(`a search by prefix lists the first page of ${KNOWN_PREFIX}* and a "next"`, async () => {
    await search(KNOWN_PREFIX);
    const first = await page.waitFor(`(() => { const ids = ${ids};
        return ids.length > 0 && !document.getElementById('browser-next').hidden ? ids : null; })()`,
      WAIT_MS, 'a first page with "next"');
    if (first[0] !== known(0)) throw new Error(`first id ${first[0]}, not ${known(0)}`);
    if (!first.every((id) => id.startsWith(KNOWN_PREFIX))) throw new Error('an id without the prefix: ' + first);
    const sorted = first.slice().sort();
    if (JSON.stringify(sorted) !== JSON.stringify(first)) throw new Error('ids not sorted: ' + first);
  });
  await step(`"next" pages on to the last known task (${known(KNOWN_COUNT - 1)})`, async () => {
    let seen = await page.eval(ids);
    for (let pages = 1; pages < 10 && !seen.includes(known(KNOWN_COUNT - 1)); pages++) {
      const before = JSON.stringify(seen);
      await page.eval(`document.getElementById('browser-next').click()`);
      seen = await page.waitFor(`(() => { const ids = ${ids};
          return ids.length > 0 && JSON.stringify(ids) !== ${JSON.stringify(before)} ? ids : null; })()`,
        WAIT_MS, 'the next page');
      if (seen[0] <= JSON.parse(before).slice(-1)[0]) throw new Error('a page that goes back: ' + seen[0]);
    }
    if (!seen.includes(known(KNOWN_COUNT - 1))) throw new Error('never reached; last page ' + seen);
  });
  await step(`opening ${known(0)} shows its state keys (doc) and its reminder`, async () => {
    await search(known(0));
    await page.waitFor(`JSON.stringify(${ids}) === ${JSON.stringify(JSON.stringify([known(0)]))}`,
      WAIT_MS, `exactly ${known(0)} listed`);
    await page.eval(`document.querySelector('#browser-results li[data-actor-id="${known(0)}"] button').click()`);
    await page.waitFor(`!document.getElementById('actor-detail').hidden &&
        document.getElementById('actor-id').textContent === '${known(0)}' &&
        !!document.querySelector('#actor-state tr[data-key="doc"]')`, WAIT_MS, 'the state key doc');
    await page.waitFor(`document.querySelectorAll('#actor-reminders tbody tr[data-name]').length >= 1`,
      WAIT_MS, 'a reminder row');
  });
  await step('"show values" shows the stored task document', () =>
    page.eval(`document.getElementById('actor-values').click()`).then(() =>
      page.waitFor(`(() => { const td = document.querySelector('#actor-state tr[data-key="doc"] td.value');
          return !!td && td.textContent.includes('Known task 00'); })()`, WAIT_MS, 'the doc value')));
}

async function live(url, work, shot) {
  await withPage(async (page) => {
    const opened = Date.now();
    await step('the page loads and its stream goes live', () => openLive(page, url), true);
    await step('requests and TaskActors rise on the page under load', async () => {
      const r0 = await page.waitFor(valueAt('#requests-total'), WAIT_MS, 'a request count');
      const a0 = await page.waitFor(valueAt(TASK_ACTORS), WAIT_MS, 'a TaskActor count');
      await page.waitFor(`${valueAt('#requests-total')} > ${r0} && ${valueAt(TASK_ACTORS)} > ${a0}`,
        WAIT_MS, `requests above ${r0} and TaskActors above ${a0}`);
    });
    await step('requests per second and activations per second show above zero', () =>
      page.waitFor(`${valueAt('#rps')} > 0 && ${valueAt('#activations-rate')} > 0`, WAIT_MS,
        'rps and activations/s > 0'));
    await step('the routes table counts the Task API routes', () =>
      page.waitFor(`document.querySelectorAll('#routes tbody tr[data-route]').length > 0`, WAIT_MS,
        'a route row'));
    await actorBrowser(page);
    await step(`a 1280x800 screenshot after 10 s of load (${shot})`, async () => {
      await page.eval('window.scrollTo(0, 0)');
      const wait = opened + 12000 - Date.now();
      if (wait > 0) await sleep(wait);
      await page.screenshot(shot);
    });
    fs.writeFileSync(path.join(work, 'load-stop'), '');
    await step('once the load stops, the TaskActor count on the page equals /metrics', async () => {
      await waitForFile(path.join(work, 'load-done'), WAIT_MS);
      const until = Date.now() + WAIT_MS;
      let shown, metric;
      for (;;) {
        shown = await page.eval(valueAt(TASK_ACTORS));
        metric = await metricsTaskActors(url);
        if (shown === metric) break;
        if (Date.now() > until) throw new Error(`page ${shown}, /metrics ${metric}`);
        await sleep(500);
      }
      console.log(`# TaskActors: ${shown} on the page and in /metrics`);
    });
  });
}

async function disconnect(url, work) {
  await withPage(async (page) => {
    await step('the page goes live', () => openLive(page, url), true);
    fs.writeFileSync(path.join(work, 'please-stop'), '');
    await step('it says "disconnected, retrying" while vactord is down', async () => {
      await page.waitFor(`document.getElementById('conn-status').dataset.state === 'disconnected' &&
          document.getElementById('conn-status').textContent.startsWith('disconnected, retrying')`,
        WAIT_MS, 'the disconnected state');
    });
    fs.writeFileSync(path.join(work, 'may-restart'), '');
    await step('it is live again once vactord is back', async () => {
      await waitForFile(path.join(work, 'restarted'), WAIT_MS);
      await page.waitFor(`document.getElementById('conn-status').dataset.state === 'live' &&
          ${valueAt('#uptime')} !== null`, WAIT_MS, 'live again');
    });
  });
}

async function token(url, tok) {
  await withPage(async (page) => {
    await step('without the token, /dashboard is refused in the browser', async () => {
      await page.goto(url + '/dashboard');
      await page.waitFor(`document.body && document.body.innerText.includes('ERR_UNAUTHORIZED')`, WAIT_MS,
        'the 401 body');
    });
    await step('/dashboard?token=T lands on /dashboard, live, without the token in the address', async () => {
      await page.goto(url + '/dashboard?token=' + encodeURIComponent(tok));
      await page.waitFor(`location.pathname === '/dashboard' && location.search === '' &&
          document.getElementById('conn-status').dataset.state === 'live'`, WAIT_MS, 'the live page');
    }, true);
    await step('the cookie is HttpOnly and carries the page\'s API calls', async () => {
      const cookie = await page.eval('document.cookie');
      if (cookie.includes('vactor_token')) throw new Error('script can read the cookie: ' + cookie);
      const status = await page.eval(`fetch('/v1/actors').then((r) => r.status)`);
      if (status !== 200) throw new Error('/v1/actors from the page: ' + status);
      await page.waitFor(`!!document.querySelector('#browser-type option[value="TaskActor"]')`, WAIT_MS,
        'the type picker');
    });
  });
}

async function main() {
  const [phase, url, arg, arg2] = process.argv.slice(2);
  if (phase === 'live') await live(url, arg, arg2 || path.join(arg, 'dashboard.png'));
  else if (phase === 'disconnect') await disconnect(url, arg);
  else if (phase === 'token') await token(url, arg);
  else throw new Error('usage: dashboard_check.js live|disconnect|token URL ...');
}

main().then(() => process.exit(failed ? 1 : 0), (e) => {
  report(false, 'the browser ran', e && e.stack ? e.stack : e);
  process.exit(1);
});
