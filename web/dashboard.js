/* dashboard.js — the live dashboard of vactord (index.html), plain JS.
 *
 * The server sends one JSON event a second on /dashboard/events with
 * cumulative counters only; this page computes every rate and latency
 * percentile from the difference between two consecutive events, so the
 * server keeps nothing per viewer. It keeps a rolling window of samples
 * (WINDOW_S) and draws them on <canvas> itself. A field missing from an
 * event shows as "–"; unknown fields are ignored.
 *
 * The actor browser reads GET /v1/actors (types), /v1/actors/{type}
 * (ids, paged with an opaque cursor) and /v1/actors/{type}/{id} (one
 * actor: state, reminders, timers).
 *
 * Every key number has a stable id and carries its raw value in
 * data-value (empty when unknown), so that tests read numbers, not text.
 * Text from the server goes in through textContent only. */
'use strict';

(function () {
  const WINDOW_S = 180; /* the charts' rolling window, at most */
  const MIN_WINDOW_S = 60; /* and at least (it grows with the data) */
  const MIN_SAMPLE_MS = 500; /* events closer than this are not differenced */
  const STALL_MS = 5000; /* no event for this long: reconnect */
  const MAX_RETRY_MS = 10000;
  const PAGE_SIZE = 50;
  const TYPES_REFRESH_MS = 10000; /* the type picker's counts */
  const MAX_VALUE_CHARS = 4096;
  const PALETTE = ['#4e9af1', '#f1a14e', '#5cc98a', '#e8615a', '#b38ef0',
    '#e8d25a', '#59d0d6', '#f07fbf', '#9aa5b1'];

  const $ = (id) => document.getElementById(id);

  /* ---- reading events -------------------------------------------------- */

  /* The number at `path` ("store.commits") of obj, or null. */
  function pick(obj, path) {
    let v = obj;
    for (const part of path.split('.')) {
      if (v === null || typeof v !== 'object') return null;
      v = v[part];
    }
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  /* Per second, from two values of a cumulative counter; null if either is
   * missing or the counter went back (a restart). */
  function perSecond(before, after, seconds) {
    if (before === null || after === null || !(seconds > 0) || after < before) return null;
    return (after - before) / seconds;
  }

  function routesOf(ev) {
    const routes = ev && ev.http && Array.isArray(ev.http.routes) ? ev.http.routes : [];
    return routes.filter((r) => r && typeof r.route === 'string');
  }

  function boundsOf(ev) {
    const b = ev && ev.http && Array.isArray(ev.http.bounds_s) ? ev.http.bounds_s : null;
    return b && b.every((x) => typeof x === 'number') ? b : null;
  }

  /* The requests in each latency bucket between two events (null if the
   * buckets do not line up or a count went back). */
  function bucketDelta(before, after, nbuckets) {
    const a = before && before.buckets, b = after && after.buckets;
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== nbuckets || b.length !== nbuckets)
      return null;
    const d = b.map((x, i) => x - a[i]);
    return d.every((x) => Number.isFinite(x) && x >= 0) ? d : null;
  }

  /* The q-quantile (0..1) in seconds of a histogram (counts per bucket,
   * the last one beyond the last bound), interpolated linearly inside
   * its bucket as Prometheus' histogram_quantile does; Infinity if it
   * falls beyond the last bound; null with no requests. */
  function quantile(q, bounds, counts) {
    const total = counts.reduce((s, x) => s + x, 0);
    if (!(total > 0)) return null;
    const rank = q * total;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] > 0 && seen + counts[i] >= rank) {
        if (i >= bounds.length) return Infinity;
        const lower = i === 0 ? 0 : bounds[i - 1];
        return lower + (bounds[i] - lower) * ((rank - seen) / counts[i]);
      }
      seen += counts[i];
    }
    return Infinity;
  }

  /* What happened between two events: rates, percentiles, per route. */
  function sampleOf(prev, cur) {
    const seconds = (pick(cur, 't') - pick(prev, 't')) / 1000;
    const rate = (path) => perSecond(pick(prev, path), pick(cur, path), seconds);
    const s = {
      t: pick(cur, 't'),
      activations: rate('actors.activations'),
      deactivations: rate('actors.deactivations'),
      turns: rate('turns'),
      turnsFailed: rate('turns_failed'),
      timeouts: rate('timeouts'),
      commits: rate('store.commits'),
      reminders: rate('reminders.fired'),
      remindersDue: rate('reminders.due'),
      savesPerCommit: null,
      mailbox: pick(cur, 'mailbox_depth'),
      connections: pick(cur, 'http.connections'),
      rps: null, e5: null, e4: null, p50: null, p99: null,
      routes: {},
    };
    const commits = pick(cur, 'store.commits') - pick(prev, 'store.commits');
    const saves = pick(cur, 'store.saves') - pick(prev, 'store.saves');
    if (pick(prev, 'store.commits') !== null && pick(cur, 'store.saves') !== null &&
        commits > 0 && saves >= 0)
      s.savesPerCommit = saves / commits;

    const bounds = boundsOf(cur);
    const sameBounds = bounds && JSON.stringify(bounds) === JSON.stringify(boundsOf(prev));
    const before = new Map(routesOf(prev).map((r) => [r.route, r]));
    let all = sameBounds ? new Array(bounds.length + 1).fill(0) : null;
    for (const r of routesOf(cur)) {
      const p = before.get(r.route);
      const rr = {
        rps: perSecond(pick(p, 'requests'), pick(r, 'requests'), seconds),
        e5: perSecond(pick(p, 'errors'), pick(r, 'errors'), seconds),
        e4: perSecond(pick(p, 'client_errors'), pick(r, 'client_errors'), seconds),
        p50: null, p99: null,
      };
      s.routes[r.route] = rr;
      if (rr.rps !== null) s.rps = (s.rps || 0) + rr.rps;
      if (rr.e5 !== null) s.e5 = (s.e5 || 0) + rr.e5;
      if (rr.e4 !== null) s.e4 = (s.e4 || 0) + rr.e4;
      const d = sameBounds && p ? bucketDelta(p, r, bounds.length + 1) : null;
      if (d) {
        rr.p50 = quantile(0.5, bounds, d);
        rr.p99 = quantile(0.99, bounds, d);
        if (all) all = all.map((x, i) => x + d[i]);
      }
    }
    if (all) {
      s.p50 = quantile(0.5, bounds, all);
      s.p99 = quantile(0.99, bounds, all);
    }
    /* No route has counted yet (a fresh server): zero, not unknown. */
    if (s.rps === null && routesOf(prev).length === 0 && pick(prev, 't') !== null &&
        cur.http && Array.isArray(cur.http.routes)) {
      s.rps = 0; s.e5 = 0; s.e4 = 0;
    }
    return s;
  }

  /* ---- formatting ------------------------------------------------------ */

  const DASH = '–';
  let lastBound = null; /* the last latency bound, for "> 5 s" */

  function fmtCount(n) {
    return n === null || n === undefined ? DASH : Math.round(n).toLocaleString('en-US');
  }

  function fmtRate(r) {
    if (r === null || r === undefined) return DASH;
    if (r === 0) return '0';
    if (r < 10) return r.toFixed(1);
    return Math.round(r).toLocaleString('en-US');
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return DASH;
    if (s === 0) return '0';
    if (s === Infinity) return lastBound === null ? '> max' : '> ' + fmtSeconds(lastBound);
    if (s < 0.001) return (s * 1e6).toFixed(0) + ' µs';
    if (s < 0.01) return (s * 1e3).toFixed(2) + ' ms';
    if (s < 0.1) return (s * 1e3).toFixed(1) + ' ms';
    if (s < 1) return (s * 1e3).toFixed(0) + ' ms';
    return s.toFixed(2) + ' s';
  }

  function fmtUptime(s) {
    if (s === null) return DASH;
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
    const m = Math.floor(s / 60) % 60, sec = Math.floor(s % 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    if (m > 0) return `${m}m ${sec}s`;
    return `${sec}s`;
  }

  /* A chart's y-axis label: as few digits as the value needs. */
  function fmtAxis(v) {
    if (v === 0) return '0';
    if (v >= 1000) return Math.round(v).toLocaleString('en-US');
    return String(Number(v.toPrecision(3)));
  }

  /* Shows `text` in el and keeps the raw value in data-value. */
  function show(el, value, text) {
    if (!el) return;
    el.textContent = text;
    el.dataset.value = value === null || value === undefined ? '' : String(value);
  }

  /* ---- rendering the tiles and tables ---------------------------------- */

  function renderTiles(ev, s) {
    show($('version'), ev.version, typeof ev.version === 'string' ? ev.version : DASH);
    show($('node'), ev.node, typeof ev.node === 'string' ? ev.node : DASH);
    show($('uptime'), pick(ev, 'uptime_s'), fmtUptime(pick(ev, 'uptime_s')));
    const counts = {
      'active-actors': pick(ev, 'actors.active'),
      'mailbox-depth': pick(ev, 'mailbox_depth'),
      'connections': pick(ev, 'http.connections'),
      'refused-total': pick(ev, 'http.refused'),
      'deadlocks-total': pick(ev, 'deadlocks'),
      'backpressure-total': pick(ev, 'backpressure'),
      'store-failures-total': pick(ev, 'store.failures'),
    };
    for (const [id, v] of Object.entries(counts)) show($(id), v, fmtCount(v));
    let requests = null;
    for (const r of routesOf(ev)) {
      const n = pick(r, 'requests');
      if (n !== null) requests = (requests || 0) + n;
    }
    if (requests === null && ev.http && Array.isArray(ev.http.routes)) requests = 0;
    show($('requests-total'), requests, fmtCount(requests));

    const rates = {
      'activations-rate': s && s.activations,
      'deactivations-rate': s && s.deactivations,
      'rps': s && s.rps,
      'turns-rate': s && s.turns,
      'commits-rate': s && s.commits,
      'reminders-rate': s && s.reminders,
      'reminders-due-rate': s && s.remindersDue,
      'errors-5xx-rate': s && s.e5,
      'errors-4xx-rate': s && s.e4,
      'turns-failed-rate': s && s.turnsFailed,
      'timeouts-rate': s && s.timeouts,
    };
    for (const [id, v] of Object.entries(rates)) show($(id), v, fmtRate(v));
    /* An error tile lights up while its number is above zero. */
    for (const tile of document.querySelectorAll('.tile.bad')) {
      const v = Number(tile.querySelector('.value').dataset.value);
      tile.classList.toggle('alarm', v > 0);
    }
    const spc = s ? s.savesPerCommit : null;
    show($('saves-per-commit'), spc, spc === null ? DASH : spc.toFixed(1));
    show($('latency-p50'), s && s.p50, fmtSeconds(s && s.p50));
    show($('latency-p99'), s && s.p99, fmtSeconds(s && s.p99));
  }

  /* Makes tbody hold one row per key (in the order given), each row with
   * one cell per field, reusing rows; fill(row cells, item) sets them. */
  function syncRows(tbody, attr, items, keyOf, fields, fill) {
    const existing = new Map();
    for (const tr of Array.from(tbody.rows)) existing.set(tr.getAttribute(attr), tr);
    const wanted = new Set();
    for (const item of items) {
      const key = keyOf(item);
      wanted.add(key);
      let tr = existing.get(key);
      if (!tr) {
        tr = document.createElement('tr');
        tr.setAttribute(attr, key);
        for (const f of fields) {
          const td = document.createElement('td');
          td.dataset.field = f.name;
          if (f.num) td.className = 'num';
          tr.appendChild(td);
        }
      }
      tbody.appendChild(tr); /* moves it into order */
      const cells = {};
      for (const td of tr.cells) cells[td.dataset.field] = td;
      fill(cells, item);
    }
    for (const [key, tr] of existing) if (!wanted.has(key)) tr.remove();
  }

  function renderByType(ev) {
    const list = ev.actors && Array.isArray(ev.actors.by_type) ? ev.actors.by_type : [];
    const types = list.filter((x) => x && typeof x.type === 'string')
      .sort((a, b) => a.type.localeCompare(b.type));
    syncRows($('by-type').tBodies[0], 'data-type', types, (x) => x.type,
      [{ name: 'type' }, { name: 'active', num: true }],
      (c, x) => {
        c.type.textContent = x.type;
        show(c.active, pick(x, 'active'), fmtCount(pick(x, 'active')));
      });
  }

  function renderRoutes(ev, s) {
    const routes = routesOf(ev).slice().sort((a, b) =>
      (pick(b, 'requests') || 0) - (pick(a, 'requests') || 0) || a.route.localeCompare(b.route));
    syncRows($('routes').tBodies[0], 'data-route', routes, (r) => r.route,
      [{ name: 'route' }, { name: 'requests', num: true }, { name: 'rps', num: true },
        { name: 'p50', num: true }, { name: 'p99', num: true },
        { name: 'e5', num: true }, { name: 'e4', num: true }],
      (c, r) => {
        const rs = (s && s.routes[r.route]) || {};
        c.route.textContent = r.route;
        show(c.requests, pick(r, 'requests'), fmtCount(pick(r, 'requests')));
        show(c.rps, rs.rps, fmtRate(rs.rps));
        show(c.p50, rs.p50, fmtSeconds(rs.p50));
        show(c.p99, rs.p99, fmtSeconds(rs.p99));
        show(c.e5, rs.e5, fmtRate(rs.e5));
        show(c.e4, rs.e4, fmtRate(rs.e4));
      });
    const select = $('latency-route');
    const known = new Set(Array.from(select.options).map((o) => o.value));
    for (const r of routes) {
      if (known.has(r.route)) continue;
      const o = document.createElement('option');
      o.value = r.route;
      o.textContent = r.route;
      select.appendChild(o);
    }
  }

  function renderCluster(ev) {
    const panel = $('cluster-panel');
    const c = ev.cluster;
    panel.hidden = !(c && typeof c === 'object');
    if (panel.hidden) return;
    show($('cluster-version'), pick(c, 'version'), fmtCount(pick(c, 'version')));
    const members = Array.isArray(c.members) ? c.members.filter((m) => m && typeof m.id === 'string') : [];
    syncRows($('cluster-members').tBodies[0], 'data-member', members, (m) => m.id,
      [{ name: 'id' }, { name: 'address' }, { name: 'status' },
        { name: 'lease', num: true }, { name: 'types' }],
      (cells, m) => {
        cells.id.textContent = m.id + (m.id === c.self ? ' (this node)' : '');
        cells.address.textContent = typeof m.address === 'string' ? m.address : DASH;
        const status = typeof m.status === 'string' ? m.status : 'unknown';
        cells.status.textContent = status;
        cells.status.className = 'member-status st-' + status.replace(/[^a-z]/g, '');
        cells.status.dataset.value = status;
        show(cells.lease, pick(m, 'leaseRemainingMs'), fmtCount(pick(m, 'leaseRemainingMs')));
        cells.types.textContent = Array.isArray(m.types) ? m.types.join(', ') : DASH;
      });
  }

  /* ---- charts ---------------------------------------------------------- */

  /* The smallest 1, 2 or 5 times a power of ten at or above x. */
  function niceCeil(x) {
    if (!(x > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * p >= x * 0.999) return m * p;
    return 10 * p;
  }

  /* Draws series ([{label, color, dashed, points: [[t, v|null]...]}]) over
   * the window of span_s seconds ending at tNow (ms) on canvas; fmt labels
   * the y axis. A line breaks at a null or a gap of more than 2.5 s (a
   * reconnect). */
  function drawChart(canvas, series, tNow, spanS, fmt) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const css = getComputedStyle(canvas);
    const ink = css.color || '#ccc';
    g.font = '11px system-ui, sans-serif';

    /* Legend along the top, wrapping. */
    let lx = 8, ly = 12;
    for (const s of series) {
      const tw = g.measureText(s.label).width + 22;
      if (lx + tw > w - 4 && lx > 8) { lx = 8; ly += 14; }
      g.fillStyle = s.color;
      g.fillRect(lx, ly - 7, 10, 3);
      g.fillStyle = ink;
      g.fillText(s.label, lx + 14, ly);
      lx += tw;
    }
    const left = 58, right = 10, top = ly + 10, bottom = 18;
    const pw = w - left - right, ph = h - top - bottom;
    if (pw <= 10 || ph <= 10) return;
    const t0 = tNow - spanS * 1000;
    let max = 0;
    for (const s of series)
      for (const [t, v] of s.points) if (t >= t0 && v !== null && v > max) max = v;
    const yMax = niceCeil(max);
    const x = (t) => left + ((t - t0) / (spanS * 1000)) * pw;
    const y = (v) => top + ph - (Math.min(v, yMax) / yMax) * ph;

    /* Grid and axes. */
    g.strokeStyle = 'rgba(128,128,128,0.25)';
    g.lineWidth = 1;
    g.fillStyle = ink;
    g.textAlign = 'right';
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(left + pw, yy); g.stroke();
      g.fillText(fmt(v), left - 6, yy + 4);
    }
    g.textAlign = 'center';
    const stepS = spanS <= 90 ? 15 : 60;
    for (let ago = 0; ago <= spanS; ago += stepS) {
      const xx = Math.round(x(tNow - ago * 1000)) + 0.5;
      g.beginPath(); g.moveTo(xx, top); g.lineTo(xx, top + ph); g.stroke();
      const label = ago === 0 ? 'now' : stepS < 60 ? `-${ago}s` : `-${ago / 60}m`;
      g.fillText(label, Math.max(left + 10, Math.min(xx, left + pw - 12)), h - 4);
    }
    g.textAlign = 'left';

    /* The lines. */
    let any = false;
    for (const s of series) {
      g.strokeStyle = s.color;
      g.lineWidth = s.width || 1.5;
      g.setLineDash(s.dashed ? [5, 4] : []);
      g.beginPath();
      let last = null;
      for (const [t, v] of s.points) {
        if (t < t0 || v === null) { last = null; continue; }
        if (last === null || t - last > 2500) g.moveTo(x(t), y(v));
        else g.lineTo(x(t), y(v));
        last = t;
        any = true;
      }
      g.stroke();
    }
    g.setLineDash([]);
    if (!any) {
      g.fillStyle = ink;
      g.textAlign = 'center';
      g.fillText('waiting for data…', left + pw / 2, top + ph / 2);
      g.textAlign = 'left';
    }
  }

  const history = []; /* samples, oldest first, within WINDOW_S */

  function line(label, color, get, extra) {
    return Object.assign({ label, color, points: history.map((s) => [s.t, get(s)]) }, extra || {});
  }

  /* The routes with the most requests over the window, busiest first. */
  function busiestRoutes(n) {
    const sum = new Map();
    for (const s of history)
      for (const [name, r] of Object.entries(s.routes))
        sum.set(name, (sum.get(name) || 0) + (r.rps || 0));
    return Array.from(sum.entries()).filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1]).slice(0, n).map(([name]) => name);
  }

  function drawCharts() {
    if (history.length === 0) return;
    const tNow = history[history.length - 1].t;
    /* The window grows with the data, from MIN_WINDOW_S to WINDOW_S. */
    const spanS = Math.min(WINDOW_S, Math.max(MIN_WINDOW_S, Math.ceil((tNow - history[0].t) / 15000) * 15));
    const clampLatency = (v) => (v === Infinity ? lastBound : v);
    const routes = busiestRoutes(6);
    drawChart($('chart-rps'), [line('all', '#d0d4da', (s) => s.rps, { width: 2 })].concat(
      routes.map((r, i) => line(r, PALETTE[i % PALETTE.length],
        (s) => (s.routes[r] ? s.routes[r].rps : null)))), tNow, spanS, fmtAxis);

    const chosen = $('latency-route').value;
    const lat = (s, q) => clampLatency(chosen ? (s.routes[chosen] || {})[q] ?? null : s[q]);
    drawChart($('chart-latency'), [
      line('p50 ' + (chosen || 'all routes'), PALETTE[0], (s) => lat(s, 'p50'), { dashed: true }),
      line('p99 ' + (chosen || 'all routes'), PALETTE[3], (s) => lat(s, 'p99')),
    ], tNow, spanS, fmtSeconds);

    drawChart($('chart-actors'), [
      line('activations', PALETTE[2], (s) => s.activations),
      line('deactivations', PALETTE[1], (s) => s.deactivations),
    ], tNow, spanS, fmtAxis);
    drawChart($('chart-work'), [
      line('turns', PALETTE[0], (s) => s.turns),
      line('commits', PALETTE[2], (s) => s.commits),
      line('reminders due', PALETTE[5], (s) => s.remindersDue),
      line('reminders fired', PALETTE[4], (s) => s.reminders),
    ], tNow, spanS, fmtAxis);
    drawChart($('chart-errors'), [
      line('5xx', PALETTE[3], (s) => s.e5),
      line('4xx', PALETTE[1], (s) => s.e4),
      line('failed turns', PALETTE[4], (s) => s.turnsFailed),
      line('timeouts', PALETTE[5], (s) => s.timeouts),
    ], tNow, spanS, fmtAxis);
    drawChart($('chart-load'), [
      line('mailbox depth', PALETTE[6], (s) => s.mailbox),
      line('open connections', PALETTE[0], (s) => s.connections),
    ], tNow, spanS, fmtAxis);
  }

  /* ---- the event stream ------------------------------------------------ */

  let prev = null; /* the last event, to difference against */
  let lastSample = null; /* what happened between the last two */
  let source = null, lastEventAt = 0, retryMs = 1000, retryTimer = null;

  function setStatus(state, text) {
    const el = $('conn-status');
    el.dataset.state = state;
    el.className = 'status ' + state;
    el.textContent = text;
  }

  function onEvent(message) {
    let ev;
    try {
      ev = JSON.parse(message.data);
    } catch (e) {
      return; /* not JSON: skip it */
    }
    if (!ev || typeof ev !== 'object') return;
    lastEventAt = Date.now();
    retryMs = 1000;
    setStatus('live', 'live');
    const bounds = boundsOf(ev);
    if (bounds && bounds.length) lastBound = bounds[bounds.length - 1];
    /* An event too close to the last baseline (the server may send two
     * at once when the stream opens) is shown but not differenced: the
     * next one is, against the same baseline. */
    const dt = prev ? pick(ev, 't') - pick(prev, 't') : NaN;
    const s = dt >= MIN_SAMPLE_MS && pick(prev, 't') !== null ? sampleOf(prev, ev) : null;
    if (s || !(dt > 0)) prev = ev;
    if (s) {
      lastSample = s;
      history.push(s);
      while (history.length && history[0].t < s.t - WINDOW_S * 1000) history.shift();
    } else if (!(dt > 0)) {
      lastSample = null;
    }
    renderTiles(ev, lastSample);
    renderByType(ev);
    renderRoutes(ev, lastSample);
    renderCluster(ev);
    drawCharts();
  }

  function disconnected() {
    setStatus('disconnected', 'disconnected, retrying…');
    prev = null; /* the next event starts a new baseline */
    lastSample = null;
  }

  function connect() {
    retryTimer = null;
    if (source) source.close();
    lastEventAt = Date.now();
    source = new EventSource('/dashboard/events');
    source.onmessage = onEvent;
    source.onerror = () => {
      disconnected();
      /* CLOSED: the browser gave up (an error status, say); retry here.
       * Otherwise it reconnects by itself. */
      if (source.readyState === EventSource.CLOSED) retryLater();
    };
  }

  function retryLater() {
    if (retryTimer) return;
    if (source) { source.close(); source = null; }
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }

  /* A stream that is open but silent is as good as gone. */
  function watchdog() {
    if (source && !retryTimer && Date.now() - lastEventAt > STALL_MS) {
      disconnected();
      retryLater();
    }
  }

  /* ---- the actor browser ----------------------------------------------- */

  const browser = { type: '', prefix: '', active: false, cursor: null, open: null, values: false };

  /* GET url as JSON; throws an Error saying the status and errorCode. */
  async function getJson(url) {
    const res = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (!res.ok) {
      const code = body && typeof body.errorCode === 'string' ? ' ' + body.errorCode : '';
      const msg = body && typeof body.message === 'string' ? ': ' + body.message : '';
      const err = new Error(`${res.status}${code}${msg}`);
      err.status = res.status;
      throw err;
    }
    return body || {};
  }

  function browserError(err) {
    const el = $('browser-error');
    el.hidden = !err;
    el.textContent = err ? String(err.message || err) : '';
  }

  /* Fills the type picker from /v1/actors, updating options in place so
   * that an open picker is not disturbed. */
  async function loadTypes() {
    try {
      const doc = await getJson('/v1/actors');
      const types = Array.isArray(doc.types) ? doc.types.filter((t) => t && typeof t.type === 'string') : [];
      types.sort((a, b) => a.type.localeCompare(b.type));
      const select = $('browser-type');
      const options = new Map(Array.from(select.options).map((o) => [o.value, o]));
      for (const t of types) {
        let o = options.get(t.type);
        if (!o) {
          o = document.createElement('option');
          o.value = t.type;
          select.appendChild(o);
        }
        o.textContent = `${t.type} (${fmtCount(pick(t, 'active'))} active)`;
        o.dataset.active = pick(t, 'active') === null ? '' : String(pick(t, 'active'));
      }
      browserError(null);
    } catch (err) {
      browserError(err);
    }
  }

  function actorPath(type, id) {
    return '/v1/actors/' + encodeURIComponent(type) + (id === undefined ? '' : '/' + encodeURIComponent(id));
  }

  /* Lists one page of ids of the chosen type from `cursor` (null: the first). */
  async function listActors(cursor) {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (browser.prefix) q.set('prefix', browser.prefix);
    if (browser.active) q.set('active', 'true');
    if (cursor) q.set('cursor', cursor);
    const list = $('browser-results'), next = $('browser-next');
    try {
      const doc = await getJson(actorPath(browser.type) + '?' + q.toString());
      list.textContent = '';
      const actors = Array.isArray(doc.actors)
        ? doc.actors.filter((a) => a && typeof a === 'object' && textOrHex(a, 'id') !== null) : [];
      for (const a of actors) {
        const li = document.createElement('li');
        if (typeof a.id === 'string') {
          /* An id that is not UTF-8 (id_hex) is listed but cannot be opened. */
          li.dataset.actorId = a.id;
          const b = document.createElement('button');
          b.type = 'button';
          b.textContent = a.id;
          b.addEventListener('click', () => openActor(browser.type, a.id, false));
          li.appendChild(b);
        } else {
          const span = document.createElement('span');
          span.textContent = textOrHex(a, 'id');
          li.appendChild(span);
        }
        const tag = document.createElement('span');
        tag.className = a.active ? 'tag active' : 'tag';
        tag.textContent = (a.active ? 'active' : 'stored') + (typeof a.node === 'string' ? ' @ ' + a.node : '');
        li.appendChild(tag);
        list.appendChild(li);
      }
      if (actors.length === 0) {
        const li = document.createElement('li');
        li.className = 'empty';
        li.textContent = 'no actors';
        list.appendChild(li);
      }
      browser.cursor = typeof doc.next === 'string' && doc.next ? doc.next : null;
      next.hidden = browser.cursor === null;
      browserError(null);
    } catch (err) {
      browserError(err);
    }
  }

  /* A name the server sends as obj[field], or, when its bytes are not
   * UTF-8, as hex in obj[field + "_hex"]; null if neither. */
  function textOrHex(obj, field) {
    if (typeof obj[field] === 'string') return obj[field];
    if (typeof obj[field + '_hex'] === 'string') return '(hex) ' + obj[field + '_hex'];
    return null;
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function fillTable(table, rows, attr, keyOf, cellsOf) {
    const tbody = table.tBodies[0];
    tbody.textContent = '';
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.setAttribute(attr, keyOf(r));
      for (const [text, cls] of cellsOf(r)) cell(tr, text, cls);
      tbody.appendChild(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = cell(tr, 'none');
      td.colSpan = table.tHead.rows[0].cells.length;
      tbody.appendChild(tr);
    }
  }

  /* A state value as text: as sent, or marked hex when its bytes are not
   * UTF-8; cut after MAX_VALUE_CHARS. */
  function shownValue(s) {
    let v, tag = '';
    if (typeof s.value === 'string') {
      v = s.value;
    } else if (typeof s.value_hex === 'string') {
      v = s.value_hex;
      tag = '(hex) ';
    } else {
      return browser.values ? DASH : '';
    }
    if (v.length > MAX_VALUE_CHARS) v = v.slice(0, MAX_VALUE_CHARS) + ` … (${v.length - MAX_VALUE_CHARS} more)`;
    return tag + v;
  }

  async function openActor(type, id, values) {
    browser.open = { type, id };
    browser.values = values;
    try {
      const a = await getJson(actorPath(type, id) + (values ? '?values=true' : ''));
      if (!browser.open || browser.open.type !== type || browser.open.id !== id) return; /* another was opened */
      $('actor-detail').hidden = false;
      $('actor-type').textContent = type;
      $('actor-id').textContent = id;
      const summary = $('actor-summary');
      summary.textContent = '';
      const facts = [['active', a.active === true ? 'yes' : a.active === false ? 'no' : DASH]];
      if (pick(a, 'worker') !== null) facts.push(['worker', String(a.worker)]);
      facts.push(['idle', pick(a, 'idle_ms') === null ? DASH : fmtSeconds(a.idle_ms / 1000)]);
      facts.push(['mailbox', fmtCount(pick(a, 'mailbox'))]);
      facts.push(['turns', fmtCount(pick(a, 'turns'))]);
      if (typeof a.node === 'string') facts.push(['node', a.node]);
      for (const [k, v] of facts) {
        const dt = document.createElement('dt'), dd = document.createElement('dd');
        dt.textContent = k;
        dd.textContent = v;
        dd.dataset.field = k;
        summary.append(dt, dd);
      }
      const named = (list, field) => (Array.isArray(list) ? list : [])
        .filter((x) => x && typeof x === 'object' && textOrHex(x, field) !== null);
      const state = named(a.state, 'key');
      fillTable($('actor-state'), state, 'data-key', (s) => textOrHex(s, 'key'),
        (s) => [[textOrHex(s, 'key')], [fmtCount(pick(s, 'bytes')), 'num'], [shownValue(s), 'value']]);
      const reminders = named(a.reminders, 'name');
      fillTable($('actor-reminders'), reminders, 'data-name', (r) => textOrHex(r, 'name'),
        (r) => [[textOrHex(r, 'name')], [typeof r.due === 'string' ? r.due : DASH],
          [typeof r.period === 'string' ? r.period : DASH], [fmtCount(pick(r, 'data_bytes')), 'num']]);
      const timers = named(a.timers, 'name');
      fillTable($('actor-timers'), timers, 'data-name', (t) => textOrHex(t, 'name'),
        (t) => [[textOrHex(t, 'name')], [typeof t.due === 'string' ? t.due : DASH], [fmtCount(pick(t, 'period_ms')), 'num']]);
      $('actor-values').textContent = values ? 'hide values' : 'show values';
      browserError(null);
    } catch (err) {
      browserError(err);
    }
  }

  function setupBrowser() {
    $('browser-form').addEventListener('submit', (e) => {
      e.preventDefault();
      browser.type = $('browser-type').value;
      browser.prefix = $('browser-prefix').value.trim();
      browser.active = $('browser-active').checked;
      if (browser.type) listActors(null);
      loadTypes();
    });
    $('browser-next').addEventListener('click', () => {
      if (browser.cursor) listActors(browser.cursor);
    });
    $('actor-values').addEventListener('click', () => {
      if (browser.open) openActor(browser.open.type, browser.open.id, !browser.values);
    });
    loadTypes();
    setInterval(loadTypes, TYPES_REFRESH_MS);
  }

  /* ---- start ----------------------------------------------------------- */

  function start() {
    setupBrowser();
    $('latency-route').addEventListener('change', drawCharts);
    window.addEventListener('resize', drawCharts);
    setInterval(watchdog, 1000);
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
