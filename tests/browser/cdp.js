// cdp.js — a tiny client of the Chrome DevTools Protocol, enough to drive
// Debian's /usr/bin/chromium headless from a test without any npm package:
// chromium is started with --remote-debugging-pipe, so the protocol's JSON
// messages (each ended by a NUL byte) go over the child's fds 3 (to the
// browser) and 4 (from it). One page (a flattened session) per Page.
//
//   const browser = await launch({ userDataDir });
//   const page = await browser.newPage(1280, 800);
//   await page.goto(url);
//   await page.waitFor('document.title !== ""', 30000, 'a title');
//   await page.screenshot('shot.png');
//   await browser.close();
//
// Every wait is bounded; errors from the page (exceptions, console errors,
// CSP reports) are collected in page.problems for the test to check.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

class Browser {
  constructor(child) {
    this.child = child;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, method}
    this.listeners = []; // {sessionId, method, fn}
    this.buffer = Buffer.alloc(0);
    this.exited = false;
    this.stderr = '';
    child.stdio[4].on('data', (chunk) => this.receive(chunk));
    child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-8000);
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values())
        p.reject(new Error(`chromium exited (${code ?? signal}) during ${p.method}\n${this.stderr}`));
      this.pending.clear();
    });
  }

  receive(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let end;
    while ((end = this.buffer.indexOf(0)) >= 0) {
      const text = this.buffer.subarray(0, end).toString('utf8');
      this.buffer = this.buffer.subarray(end + 1);
      this.dispatch(JSON.parse(text));
    }
  }

  dispatch(msg) {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result);
      return;
    }
    for (const l of this.listeners.slice())
      if (l.method === msg.method && (l.sessionId || undefined) === (msg.sessionId || undefined))
        l.fn(msg.params);
  }

  // Sends one command; resolves with its result (rejects on an error).
  send(method, params = {}, sessionId = undefined, timeoutMs = 60000) {
    if (this.exited) return Promise.reject(new Error(`chromium has exited (${method})`));
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.child.stdio[3].write(JSON.stringify(msg) + '\0');
    });
  }

  on(method, fn, sessionId = undefined) {
    const l = { method, fn, sessionId };
    this.listeners.push(l);
    return () => { this.listeners = this.listeners.filter((x) => x !== l); };
  }

  async newPage(width, height) {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await page.init(width, height);
    return page;
  }

  async close() {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    this.send('Browser.close').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    await gone;
    clearTimeout(timer);
  }
}

class Page {
  constructor(browser, sessionId) {
    this.browser = browser;
    this.sessionId = sessionId;
    this.problems = []; // exceptions and console errors seen on the page
  }

  send(method, params = {}, timeoutMs = 60000) {
    return this.browser.send(method, params, this.sessionId, timeoutMs);
  }

  on(method, fn) {
    return this.browser.on(method, fn, this.sessionId);
  }

  async init(width, height) {
    this.on('Runtime.exceptionThrown', (p) => {
      const d = p.exceptionDetails || {};
      this.problems.push('exception: ' + ((d.exception && d.exception.description) || d.text));
    });
    this.on('Runtime.consoleAPICalled', (p) => {
      if (p.type === 'error' || p.type === 'assert')
        this.problems.push('console.' + p.type + ': ' + p.args.map((a) => a.value ?? a.description).join(' '));
    });
    this.on('Log.entryAdded', (p) => {
      // Network errors of the page's own requests (a 404, a refused
      // stream while the server restarts) are the test's business, not
      // problems of the page; violations (CSP) and JS errors are.
      if (p.entry.level === 'error' && p.entry.source !== 'network')
        this.problems.push(`${p.entry.source}: ${p.entry.text}`);
    });
    await this.send('Page.enable');
    await this.send('Runtime.enable');
    await this.send('Log.enable');
    await this.send('Emulation.setDeviceMetricsOverride',
      { width, height, deviceScaleFactor: 1, mobile: false });
  }

  // Navigates to url; resolves once its load event fired.
  async goto(url, timeoutMs = 60000) {
    let off;
    const loaded = new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`${url}: not loaded within ${timeoutMs} ms`)); }, timeoutMs);
      off = this.on('Page.loadEventFired', () => { clearTimeout(timer); off(); resolve(); });
    });
    const r = await this.send('Page.navigate', { url }, timeoutMs);
    if (r.errorText) { off(); throw new Error(`${url}: ${r.errorText}`); }
    await loaded;
  }

  // The value of a JS expression in the page (promises are awaited).
  async eval(expression) {
    const r = await this.send('Runtime.evaluate',
      { expression, returnByValue: true, awaitPromise: true, userGesture: true });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`eval ${expression}: ${(d.exception && d.exception.description) || d.text}`);
    }
    return r.result.value;
  }

  // Polls a JS expression until it is truthy; resolves with its value,
  // rejects after timeoutMs saying what was awaited and the last value.
  async waitFor(expression, timeoutMs, what, intervalMs = 250) {
    const until = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await this.eval(expression);
        if (last) return last;
      } catch (e) {
        last = e.message;
      }
      if (Date.now() > until)
        throw new Error(`waited ${timeoutMs} ms for ${what}; last: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async screenshot(path) {
    const r = await this.send('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(path, Buffer.from(r.data, 'base64'));
  }
}

// Starts chromium headless with its own profile in userDataDir.
async function launch({ userDataDir }) {
  const args = [
    '--headless=new', '--remote-debugging-pipe', '--no-first-run',
    '--no-default-browser-check', '--disable-gpu', '--disable-dev-shm-usage',
    '--disable-extensions', '--disable-background-networking', '--disable-sync',
    '--disable-component-update', '--hide-scrollbars', '--mute-audio',
    '--password-store=basic', '--use-mock-keychain',
    `--user-data-dir=${userDataDir}`, 'about:blank',
  ];
  // Root (CI containers) cannot use chromium's sandbox.
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.unshift('--no-sandbox');
  const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  const browser = new Browser(child);
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await browser.send('Browser.getVersion', {}, undefined, 60000);
  return browser;
}

module.exports = { launch };
