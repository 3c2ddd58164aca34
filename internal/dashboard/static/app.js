// The ledger dashboard: reads only the HTTP API (/v1/...), with the role's
// bearer token kept in this tab's sessionStorage. No library, no remote
// origin: the chart is SVG written here.
'use strict';

(() => {
  // Limits of what one view asks the ledger for (each a request budget
  // under the listener's per-token rate of 200/s, burst 400).
  const MAX_AUDIT_PAGES = 20;      // audit pages of 1,000 events: the slider covers at most 20,000 events
  const AUDIT_PAGE = 1000;
  const MAX_SAMPLES = 160;         // tier documents asked for to draw the tracks over time
  const SAMPLE_CONCURRENCY = 6;    // tier requests in flight at once
  const MAX_ATTENTION_PAGES = 10;  // attention pages of 500 items
  const WHATIF_PAGE = 200;         // partners per what-if page
  const MAX_WHATIF_PAGES = 100;
  const BUSY_RETRIES = 3;          // a request answered busy (429/503) is asked again after Retry-After, this often
  const TOKEN_KEY = 'ledger.token';
  const SVG = 'http://www.w3.org/2000/svg';
  const YEAR_MS = 365 * 24 * 3600 * 1000;

  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    view: 'partner',
    partner: '', at: '', knownSeq: 0, knownAt: '',
    audit: [], auditPartner: '', policy: null, seq: 0, selected: null,
  };

  // ---------- formatting: money from integer cents, dates in UTC ISO ----------

  // JSON with integers beyond 2^53 kept exact (as BigInt) where the browser
  // gives the source text; sums are never computed here.
  function parseJSON(text) {
    return JSON.parse(text, function (k, v, ctx) {
      if (typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v) && ctx && ctx.source) return BigInt(ctx.source);
      return v;
    });
  }
  function group(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function money(cents) {
    if (cents === null || cents === undefined) return '—';
    let c = BigInt(cents);
    const neg = c < 0n; if (neg) c = -c;
    const s = group((c / 100n).toString()) + '.' + (c % 100n).toString().padStart(2, '0');
    return (neg ? '−$' : '$') + s;
  }
  function moneyShort(cents) {
    const d = Number(cents) / 100;
    if (d >= 1e6) return '$' + (d / 1e6).toLocaleString('en-US', { maximumFractionDigits: 2 }) + 'M';
    if (d >= 1e3) return '$' + (d / 1e3).toLocaleString('en-US', { maximumFractionDigits: 1 }) + 'k';
    return '$' + d.toLocaleString('en-US');
  }
  function count(n) { return group(String(n)); }
  function isMoney(track) { return track.endsWith('_usd_cents'); }
  function trackValue(track, v) { return isMoney(track) ? money(v) : count(v); }
  const TRACK_NAMES = { mbs_usd_cents: 'MBS (billed sales)', seats: 'Seats', teams_mau: 'Teams MAU', bizapps_value_usd_cents: 'BizApps value' };
  const TRACK_COLORS = { mbs_usd_cents: 'var(--mbs)', seats: 'var(--seats)', teams_mau: 'var(--mau)', bizapps_value_usd_cents: 'var(--biz)' };
  const trackName = (t) => TRACK_NAMES[t] || t;
  const tierName = (r) => ((state.policy && state.policy.tiers) || [])[r] || 'rank ' + r;

  function iso(t) { // "2024-06-01T00:00:00Z", seconds dropped of nothing
    if (!t) return '—';
    const d = t instanceof Date ? t : new Date(t);
    if (isNaN(d)) return String(t);
    return d.toISOString().replace('.000Z', 'Z');
  }
  function day(t) {
    if (!t) return '—';
    const s = iso(t);
    return s.endsWith('T00:00:00Z') ? s.slice(0, 10) : s.replace('T', ' ').replace('Z', ' UTC');
  }
  function stamp(t) { // a table's compact UTC instant: the date, and the time when there is one
    const s = iso(t);
    return s.endsWith('T00:00:00Z') ? s.slice(0, 10) : s.slice(0, 19).replace('T', ' ');
  }
  function parseInstant(s) { // RFC 3339 or YYYY-MM-DD (00:00:00Z); '' → null
    s = (s || '').trim();
    if (!s) return null;
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z';
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(s)) return undefined;
    const d = new Date(s);
    return isNaN(d) ? undefined : d;
  }
  // instantText validates an instant and returns its text for the API: as
  // given (a Date would drop the nanoseconds of a recorded instant), a date
  // completed to 00:00:00Z; '' → '', invalid → undefined.
  function instantText(s) {
    s = (s || '').trim();
    const d = parseInstant(s);
    if (!d) return d === null ? '' : undefined;
    return /^\d{4}-\d{2}-\d{2}$/.test(s) ? s + 'T00:00:00Z' : s;
  }
  function addYears(d, n) { const x = new Date(d); x.setUTCFullYear(x.getUTCFullYear() + n); return x; }
  function addMonths(d, n) { const x = new Date(d); x.setUTCMonth(x.getUTCMonth() + n); return x; }

  // ---------- the API ----------

  class ApiError extends Error {
    constructor(status, code, msg) { super(msg); this.status = status; this.code = code; }
  }
  async function api(path, opts = {}) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await api1(path, opts);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'busy' || attempt >= BUSY_RETRIES) throw e;
        await new Promise((ok) => setTimeout(ok, 1000 * (e.retryAfter || 1)));
      }
    }
  }
  async function api1(path, opts) {
    const headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
    if (opts.body) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    const text = await r.text();
    let doc = null;
    try { doc = parseJSON(text); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      const err = new ApiError(r.status, (doc && doc.code) || 'http_' + r.status, (doc && doc.error) || text.slice(0, 200));
      err.retryAfter = Number(r.headers.get('Retry-After')) || 0;
      if (r.status === 401) signOut(err.code + ': ' + err.message);
      throw err;
    }
    return doc;
  }
  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined && v !== 0) u.set(k, String(v));
    const s = u.toString();
    return s ? '?' + s : '';
  }
  const pp = (id) => '/v1/partners/' + encodeURIComponent(id);
  async function pool(items, n, fn) {
    const out = new Array(items.length);
    let next = 0;
    async function worker() { while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); } }
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
    return out;
  }
  function busy(msg) { $('busy').textContent = msg || ''; }

  // ---------- the address: #partner=…&at=…&known_seq=…&known_at=… (never the token) ----------

  function readHash() {
    const h = new URLSearchParams(location.hash.replace(/^#/, ''));
    if (h.has('token')) {
      state.token = h.get('token').trim();
      sessionStorage.setItem(TOKEN_KEY, state.token);
      h.delete('token');
      history.replaceState(null, '', location.pathname + (h.toString() ? '#' + h.toString() : ''));
    }
    if (h.has('view')) state.view = h.get('view');
    if (h.has('partner')) { state.partner = h.get('partner'); state.view = h.get('view') || 'partner'; }
    state.at = h.get('at') || '';
    state.knownSeq = Number(h.get('known_seq') || 0) || 0;
    state.knownAt = instantText(h.get('known_at') || '') || '';
  }
  function writeHash() {
    const h = new URLSearchParams();
    if (state.view !== 'partner') h.set('view', state.view);
    if (state.partner) h.set('partner', state.partner);
    if (state.at) h.set('at', state.at);
    if (state.knownAt) h.set('known_at', state.knownAt);
    else if (state.knownSeq) h.set('known_seq', String(state.knownSeq));
    const s = h.toString();
    history.replaceState(null, '', location.pathname + (s ? '#' + s : ''));
  }

  // ---------- sign-in and views ----------

  function signOut(reason) {
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('signin-error').textContent = reason || '';
    show();
  }
  function show() {
    const signed = !!state.token;
    $('tabs').hidden = $('who').hidden = !signed;
    $('view-signin').hidden = signed;
    for (const v of ['partner', 'attention', 'whatif']) $('view-' + v).hidden = !signed || state.view !== v;
    for (const b of document.querySelectorAll('.tab')) {
      if (b.dataset.view === state.view) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    }
    if (!signed) { $('token').focus(); }
  }
  async function signIn(token, partner) {
    state.token = token.trim();
    try {
      const st = await api('/v1/stats');
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $('ledger-note').textContent = `${count(st.events)} events · ${count(st.partners)} partners · policy ${st.policy}`;
      $('signin-error').textContent = '';
      if (partner) { state.partner = partner; state.view = 'partner'; }
      show();
      route();
      loadPartnerIds();
    } catch (e) {
      state.token = '';
      sessionStorage.removeItem(TOKEN_KEY);
      $('signin-error').textContent = e.code === 'unauthorized' ? 'That token is not one of this ledger\'s tokens.' : `${e.code || 'error'}: ${e.message}`;
      show();
    }
  }
  async function loadPartnerIds() { // suggestions: the partners the attention report names
    try {
      const doc = await api('/v1/attention' + qs({ limit: 500 }));
      const ids = [...new Set((doc.items || []).map((i) => i.partner_id))].sort();
      $('partner-ids').replaceChildren(...ids.map((id) => Object.assign(document.createElement('option'), { value: id })));
    } catch (e) { /* suggestions only */ }
  }
  function route() {
    writeHash();
    show();
    if (state.view === 'partner') {
      $('partner').value = state.partner; $('at').value = state.at;
      if (state.partner) loadPartner(); else $('partner').focus();
    } else if (state.view === 'attention') {
      $('att-at').value = $('att-at').value || state.at;
      loadAttention();
    }
  }

  // ---------- the partner view ----------

  async function loadAudit(partner) {
    const events = [];
    let from = 1;
    for (let page = 0; page < MAX_AUDIT_PAGES; page++) {
      const doc = await api(pp(partner) + '/audit' + qs({ from_seq: from, limit: AUDIT_PAGE }));
      for (const e of doc.events || []) {
        let env = e.envelope;
        if (typeof env === 'string') { try { env = parseJSON(env); } catch (_) { env = {}; } }
        events.push({ seq: e.seq, recorded: e.recorded, stored: e.stored, type: e.type, env: env || {}, data: (env && env.data) || {}, time: new Date(env && env.time) });
      }
      if (doc.next_seq === null || doc.next_seq === undefined) return { events, complete: true };
      from = doc.next_seq;
    }
    return { events, complete: false };
  }

  function knowledge() { // the query fields of the chosen knowledge
    if (state.knownAt) return { known_at: state.knownAt };
    if (state.knownSeq) return { known_seq: state.knownSeq };
    return {};
  }

  async function loadPartner() {
    const seq = ++state.seq;
    const partner = state.partner;
    $('partner-error').textContent = '';
    busy('Loading ' + partner + '…');
    try {
      if (!state.policy) state.policy = await api('/v1/policy');
      if (state.auditPartner !== partner) {
        const a = await loadAudit(partner);
        if (seq !== state.seq) return;
        state.audit = a.events; state.auditComplete = a.complete; state.auditPartner = partner;
      }
      const at = state.at ? parseInstant(state.at) : null;
      if (at === undefined) throw new ApiError(0, 'invalid_field', `at ${JSON.stringify(state.at)}: want an RFC 3339 instant or a date YYYY-MM-DD`);
      const know = knowledge();
      const tier = await api(pp(partner) + '/tier' + qs({ at: instantText(state.at), ...know }));
      // Pin every other call to the knowledge the tier document used: one
      // consistent cut even while events arrive.
      const pin = { known_seq: tier.known_seq };
      const atQ = iso(tier.at);
      const [benefits, hist] = await Promise.all([
        api(pp(partner) + '/benefits' + qs({ at: atQ, ...pin })),
        api(pp(partner) + '/history' + qs(pin)),
      ]);
      const known = state.audit.filter((e) => e.seq <= tier.known_seq);
      const range = timeRange(known, new Date(tier.at));
      const points = samplePoints(known, range);
      busy(`Drawing ${partner}: ${points.length} instants…`);
      // A newer view (the control moved on) stops this one's requests.
      const samples = await pool(points, SAMPLE_CONCURRENCY, (t) => (seq === state.seq ? api(pp(partner) + '/tier' + qs({ at: iso(t), ...pin })) : null));
      if (seq !== state.seq) return;
      state.docs = { tier, benefits, hist, known, range, samples, points };
      render();
    } catch (e) {
      if (seq !== state.seq) return;
      $('partner-error').textContent = `${e.code || 'error'}: ${e.message}`;
      $('partner-body').hidden = true;
    } finally {
      if (seq === state.seq) busy('');
    }
  }

  // timeRange spans the partner's events and the query instant, with the
  // TTM drop-outs of its last sales, never past max(now, at).
  function timeRange(known, at) {
    const times = known.map((e) => e.time.getTime()).filter((t) => !isNaN(t));
    const now = Date.now();
    let lo = times.length ? Math.min(...times) : at.getTime() - YEAR_MS;
    let hi = times.length ? Math.max(...times) : at.getTime();
    hi = Math.max(hi + YEAR_MS + 30 * 864e5, at.getTime());
    hi = Math.min(hi, Math.max(now, at.getTime()));
    lo = Math.min(lo, at.getTime());
    const pad = Math.max((hi - lo) * 0.03, 7 * 864e5);
    return { lo: new Date(lo - pad), hi: new Date(hi + pad) };
  }

  // samplePoints are the instants a track can change at: every sale and
  // metric report, a year after each (TTM windows drop them), the eras'
  // starts and the seats cut-off; the tracks are steps between them.
  function samplePoints(known, range) {
    const set = new Set([range.lo.getTime()]);
    const add = (d) => { const t = d.getTime(); if (t >= range.lo.getTime() && t <= range.hi.getTime()) set.add(t); };
    for (const e of known) {
      if (isNaN(e.time)) continue;
      if (e.type === 'SaleBilled' || e.type === 'MetricReported' || e.type === 'PurchaseCancelled' || e.type.startsWith('SaleF')) {
        add(e.time); add(addYears(e.time, 1));
      }
    }
    for (const era of (state.policy && state.policy.eras) || []) {
      add(new Date(era.from));
      for (const tr of Object.values(era.tracks || {})) if (tr.until) add(new Date(new Date(tr.until).getTime() + 1000));
    }
    let pts = [...set].sort((a, b) => a - b);
    if (pts.length > MAX_SAMPLES) { // thin evenly: the drawing is then approximate (said under the chart)
      const step = (pts.length - 1) / (MAX_SAMPLES - 1);
      pts = Array.from({ length: MAX_SAMPLES }, (_, i) => pts[Math.round(i * step)]);
    }
    return pts.map((t) => new Date(t));
  }

  function eraAt(t) {
    let era = null;
    for (const e of state.policy.eras) if (new Date(e.from) <= t) era = e;
    return era;
  }
  // tierScale maps a track value onto the tier axis: threshold k is height
  // k for every track and era, linear between thresholds.
  function tierScale(v, th) {
    v = Number(v);
    if (!th || !th.length) return null;
    if (v < th[0]) return v / th[0];
    for (let k = 1; k < th.length; k++) if (v < th[k]) return k + (v - th[k - 1]) / (th[k] - th[k - 1]);
    const last = th.length - 1;
    const span = last > 0 ? th[last] - th[last - 1] : th[last];
    return Math.min(th.length + 0.55, th.length + (v - th[last]) / span);
  }

  // corrections: every fraud flag, clearance, cancellation and replacing
  // metric report as known (derived from the audit events: the history
  // document lists only the corrections that changed the held tier), plus
  // any other event the history names as one (a backdated sale, say).
  function corrections(known, hist) {
    const byHist = new Map((hist.corrections || []).map((c) => [c.seq, c]));
    const sales = new Map();
    const metrics = new Map();
    const out = [];
    for (const e of known) {
      const d = e.data;
      let what = null;
      switch (e.type) {
        case 'SaleBilled': sales.set(d.sale_id, e); break;
        case 'SaleFlaggedFraud': what = `sale ${d.sale_id} flagged ${d.confidence} fraud`; break;
        case 'SaleFraudCleared': what = `fraud flag on sale ${d.sale_id} cleared`; break;
        case 'PurchaseCancelled': what = `sale ${d.sale_id} cancelled (${d.reason})`; break;
        case 'MetricReported': {
          const key = d.metric + '/' + d.period;
          const prev = metrics.get(key);
          if (prev) what = `${d.metric} for ${d.period} replaced: ${count(prev.data.value)} → ${count(d.value)}`;
          metrics.set(key, e);
          break;
        }
      }
      if (!what && byHist.has(e.seq)) what = `${e.type} ${e.env.id || ''} (recorded late: it rewrote the past)`;
      if (!what) continue;
      const sale = d.sale_id ? sales.get(d.sale_id) : null;
      out.push({ e, what, sale, hist: byHist.get(e.seq) || null });
    }
    return out;
  }
  // saleStates: each sale's state as known: counted, suspected, fraud, cancelled.
  function saleStates(known) {
    const st = new Map();
    for (const e of known) {
      const d = e.data;
      if (e.type === 'SaleBilled') st.set(d.sale_id, { e, fraud: '', cancelled: false });
      const s = st.get(d.sale_id);
      if (!s) continue;
      if (e.type === 'SaleFlaggedFraud') s.fraud = d.confidence;
      if (e.type === 'SaleFraudCleared') s.fraud = '';
      if (e.type === 'PurchaseCancelled') s.cancelled = true;
    }
    return [...st.values()];
  }

  function el(tag, attrs = {}, ...kids) {
    const n = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') n.textContent = v;
      else if (k === 'class') n.setAttribute('class', v);
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) n.append(k);
    return n;
  }
  const s = (tag, attrs, ...kids) => el('svg:' + tag, attrs, ...kids);

  function render() {
    const { tier, benefits, hist, known } = state.docs;
    $('partner-body').hidden = false;
    renderKnown();
    renderChart();
    renderTier(tier);
    renderBenefits(benefits);
    renderActivations(benefits);
    renderThresholds();
    const cs = corrections(known, hist);
    $('chart-note').textContent = `${state.partner} · at ${day(tier.at)} · as known at seq ${tier.known_seq}` +
      (cs.length ? ` · ${cs.length} correction${cs.length > 1 ? 's' : ''}` : '');
  }

  // ---------- the chart ----------

  function renderChart() {
    const { tier, hist, known, range, samples, points } = state.docs;
    const W = 900, H = 430;
    const M = { l: 80, r: 16, t: 46, b: 92 };
    const PH = H - M.t - M.b; // plot height
    // The tier axis reaches half a tier above the highest value drawn (the
    // next threshold stays in sight), at least tier-2, at most the top tier.
    const topTier = ((state.policy.tiers || []).length || 5) - 1;
    let high = 0;
    samples.forEach((d, i) => {
      const era = eraAt(points[i]);
      for (const [tr, def] of Object.entries((era && era.tracks) || {})) high = Math.max(high, tierScale((d.tracks || {})[tr] || 0, def.thresholds) || 0);
    });
    for (const c of hist.changes || []) high = Math.max(high, c.from.rank, c.to.rank);
    for (const c of hist.corrections || []) for (const f of c.effects || []) high = Math.max(high, f.before.rank, f.after.rank);
    const YMAX = Math.min(topTier + 0.6, Math.max(2.5, Math.floor(high) + 1.5));
    const x = (t) => M.l + ((new Date(t).getTime() - range.lo.getTime()) / (range.hi.getTime() - range.lo.getTime())) * (W - M.l - M.r);
    const y = (v) => M.t + PH - (v / YMAX) * PH;
    const clampX = (v) => Math.max(M.l, Math.min(W - M.r, v));
    let sanctioned = false;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'group', 'data-testid': 'tier-timeline', 'data-known-seq': tier.known_seq, 'data-at': iso(tier.at), 'data-partner': tier.partner_id,
      'aria-label': `Tier timeline of ${state.partner}: held tier, track values against the eras' thresholds, corrections and sales` });
    svg.append(s('title', { text: `Tier timeline of ${state.partner}` }));

    // Background: clicking sets "at".
    const bg = s('rect', { x: M.l, y: M.t, width: W - M.l - M.r, height: PH, fill: '#fbfcfe', stroke: 'var(--line)', class: 'plot-bg' });
    bg.addEventListener('click', (ev) => {
      const r = svg.getBoundingClientRect();
      const px = ((ev.clientX - r.left) / r.width) * W;
      const t = new Date(range.lo.getTime() + ((px - M.l) / (W - M.l - M.r)) * (range.hi.getTime() - range.lo.getTime()));
      t.setUTCHours(0, 0, 0, 0);
      state.at = iso(t); writeHash(); $('at').value = state.at; loadPartner();
    });
    svg.append(bg);

    // Benefit periods shaded (the tier documents' periods).
    const periods = new Map();
    for (const d of samples) if (d.period) periods.set(d.period.start + '|' + d.period.end, d.period);
    let alt = 0;
    for (const p of [...periods.values()].sort((a, b) => new Date(a.start) - new Date(b.start))) {
      const x0 = clampX(x(p.start)), x1 = clampX(x(p.end));
      if (x1 <= x0) continue;
      const label = p.kind === 'fiscal-year' ? 'FY ' + new Date(p.end).getUTCFullYear() : 'period from ' + day(p.start);
      svg.append(s('rect', { x: x0, y: M.t, width: x1 - x0, height: PH, fill: alt++ % 2 ? 'var(--period-b)' : 'var(--period-a)', 'pointer-events': 'none' },
        s('title', { text: `benefit period (${p.kind}) ${day(p.start)} – ${day(p.end)}` })));
      if (x1 - x0 > (p.kind === 'fiscal-year' ? 50 : 125)) svg.append(s('text', { x: x0 + 4, y: M.t + PH - 5, 'font-size': 10, fill: '#5b6574', text: label, 'pointer-events': 'none' }));
    }

    // Sanctions (dated: from the audit events as known): a band along the top.
    let since = null;
    const bands = [];
    for (const e of [...known].sort((a, b) => a.time - b.time)) {
      if (e.type === 'PartnerSanctioned' && !since) since = e;
      if (e.type === 'PartnerReinstated' && since) { bands.push([since, e.time]); since = null; }
    }
    if (since) bands.push([since, range.hi]);
    for (const [from, to] of bands) {
      const x0 = clampX(x(from.time)), x1 = clampX(x(to));
      if (x1 <= x0) continue;
      svg.append(s('g', { 'data-testid': 'sanction' }, s('title', { text: `sanctioned (${from.data.ground}) ${day(from.time)} – ${to === range.hi ? 'on' : day(to)}` }),
        s('rect', { x: x0, y: M.t, width: x1 - x0, height: 8, fill: 'var(--fraud)', opacity: 0.75 }),
        x1 - x0 > 60 ? s('text', { x: x0 + 4, y: M.t + 20, 'font-size': 10, 'font-weight': 600, fill: 'var(--fraud)', text: 'sanctioned' }) : null));
    }
    if (bands.length) sanctioned = true;

    // Tier gridlines (thresholds) and the axis.
    const tierNames = state.policy.tiers || ['none', 'tier-1', 'tier-2', 'tier-3', 'tier-4'];
    for (let k = 1; k < tierNames.length && k <= YMAX; k++) {
      svg.append(s('line', { x1: M.l, x2: W - M.r, y1: y(k), y2: y(k), stroke: '#aab4c3', 'stroke-dasharray': '4 4' }));
      svg.append(s('text', { x: M.l - 8, y: y(k) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#3d4756', text: tierNames[k] }));
    }
    svg.append(s('text', { x: M.l - 8, y: y(0) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#3d4756', text: tierNames[0] }));

    // Eras: boundaries, names and their MBS thresholds on the gridlines.
    const eras = state.policy.eras;
    eras.forEach((era, i) => {
      const from = new Date(era.from), to = i + 1 < eras.length ? new Date(eras[i + 1].from) : range.hi;
      if (to <= range.lo || from >= range.hi) return;
      const x0 = clampX(x(from)), x1 = clampX(x(to));
      if (from > range.lo) svg.append(s('line', { x1: x0, x2: x0, y1: M.t - 14, y2: M.t + PH, stroke: '#4a5361', 'stroke-width': 1.5 }));
      const eraLabel = x1 - x0 > 125 ? `era ${era.id} · ${era.basis === 'ttm' ? 'TTM' : 'cumulative'}` : x1 - x0 > 50 ? era.id : '';
      if (eraLabel) svg.append(s('text', { x: x0 + 4, y: M.t - 4, 'font-size': 11, 'font-weight': 600, fill: '#3d4756', text: eraLabel },
        s('title', { text: `era ${era.id} from ${day(era.from)}: ${era.basis === 'ttm' ? 'trailing twelve months' : 'cumulative'}` })));
      const th = (era.tracks.mbs_usd_cents || {}).thresholds || [];
      if (x1 - x0 > 90) th.forEach((v, k) => k + 1 <= YMAX && svg.append(s('text', { x: x1 - 4, y: y(k + 1) - 3, 'text-anchor': 'end', 'font-size': 9.5, fill: '#5b6574', text: moneyShort(v) })));
    });

    // Tracks: steps between the sampled instants, on the tier scale of the era then.
    const tracks = new Set(['mbs_usd_cents']);
    for (const d of samples) for (const [k, v] of Object.entries(d.tracks || {})) if (Number(v) > 0) tracks.add(k);
    const legend = [];
    for (const tr of tracks) {
      let path = '', prevY = null;
      samples.forEach((d, i) => {
        const t0 = points[i], t1 = i + 1 < points.length ? points[i + 1] : range.hi;
        const era = eraAt(t0);
        const def = era && era.tracks[tr];
        const until = def && def.until ? new Date(def.until) : null;
        if (!def || (until && t0 > until)) { prevY = null; return; }
        const yy = y(tierScale((d.tracks || {})[tr] || 0, def.thresholds));
        const xa = x(t0), xb = x(t1);
        path += prevY === null ? `M${xa},${yy}` : `L${xa},${prevY}L${xa},${yy}`;
        path += `L${xb},${yy}`;
        prevY = yy;
      });
      if (!path) continue;
      svg.append(s('path', { d: path, fill: 'none', stroke: TRACK_COLORS[tr] || '#555', 'stroke-width': 2, 'data-track': tr, 'pointer-events': 'none' }));
      legend.push([trackName(tr) + (tr === 'mbs_usd_cents' || tr === 'bizapps_value_usd_cents' ? '' : ''), TRACK_COLORS[tr], 'line']);
    }

    // Held tier: a step line from the history's changes (as known).
    const changes = hist.changes || [];
    let rank = changes.length ? changes[0].from.rank : 0;
    let held = `M${x(range.lo)},${y(rank)}`;
    for (const c of changes) {
      const cx = x(c.at);
      if (new Date(c.at) > range.hi) break;
      held += `L${cx},${y(rank)}L${cx},${y(c.to.rank)}`;
      rank = c.to.rank;
    }
    held += `L${x(range.hi)},${y(rank)}`;
    svg.append(s('path', { d: held, fill: 'none', stroke: 'var(--held)', 'stroke-width': 3.5, 'stroke-linejoin': 'round', opacity: 0.85, 'data-held': 'true', 'pointer-events': 'none' }));
    legend.unshift(['held tier', 'var(--held)', 'held']);

    // The query instant.
    const ax = x(tier.at);
    if (ax >= M.l && ax <= W - M.r) {
      svg.append(s('line', { x1: ax, x2: ax, y1: M.t, y2: M.t + PH + 62, stroke: 'var(--accent)', 'stroke-width': 1.5, 'pointer-events': 'none' }));
      const right = ax > W - M.r - 160; // keep the label inside the plot
      svg.append(s('text', { x: right ? ax - 4 : ax + 4, y: M.t + 12, 'text-anchor': right ? 'end' : 'start', 'font-size': 11, 'font-weight': 700, fill: 'var(--accent)', text: `${state.at ? 'at ' + day(tier.at) : 'now'}: ${tier.tier.name}`, 'pointer-events': 'none' }));
    }

    // Lanes under the plot: sales, then activations.
    const laneS = M.t + PH + 22, laneA = M.t + PH + 50;
    svg.append(s('text', { x: M.l - 8, y: laneS + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#3d4756', text: 'sales' }));
    svg.append(s('text', { x: M.l - 8, y: laneA + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#3d4756', text: 'activations' }));
    svg.append(s('line', { x1: M.l, x2: W - M.r, y1: laneS, y2: laneS, stroke: 'var(--line)' }));
    svg.append(s('line', { x1: M.l, x2: W - M.r, y1: laneA, y2: laneA, stroke: 'var(--line)' }));
    const sales = saleStates(known);
    const maxAmt = Math.max(1, ...sales.map((v) => Number(v.e.data.amount_usd_cents)));
    for (const v of sales) {
      const d = v.e.data, r = 3 + 7 * Math.sqrt(Number(d.amount_usd_cents) / maxAmt);
      const cx = x(v.e.time);
      const status = v.fraud === 'confirmed' ? 'fraud' : v.cancelled ? 'cancelled' : v.fraud === 'suspected' ? 'suspected' : 'counted';
      const fill = { counted: 'var(--mbs)', fraud: 'var(--fraud)', cancelled: '#ffffff', suspected: 'var(--suspect)' }[status];
      const stroke = status === 'cancelled' ? 'var(--cancel)' : r > 5 ? '#ffffff' : 'none';
      const g = s('g', { 'data-testid': 'sale', 'data-status': status },
        s('title', { text: `sale ${d.sale_id} ${day(v.e.time)} ${money(d.amount_usd_cents)}${d.seats ? ', ' + d.seats + ' seats' : ''} — ${status}` }),
        s('circle', { cx, cy: laneS, r, fill, stroke, 'stroke-width': status === 'cancelled' ? 2 : 1, opacity: 0.92 }));
      if (status === 'fraud') g.append(s('path', { d: `M${cx - r * 0.6},${laneS - r * 0.6}L${cx + r * 0.6},${laneS + r * 0.6}M${cx - r * 0.6},${laneS + r * 0.6}L${cx + r * 0.6},${laneS - r * 0.6}`, stroke: '#fff', 'stroke-width': 1.5 }));
      svg.append(g);
    }
    const STATUS_COLORS = { active: 'var(--ok)', revoked: 'var(--fraud)', ended: '#8a94a3' };
    for (const a of state.docs.benefits.activations || []) {
      const x0 = clampX(x(a.activated_at)), x1 = clampX(x(a.period && a.period.end ? a.period.end : range.hi));
      svg.append(s('g', {},
        s('title', { text: `#${a.seq} ${a.benefit_id} ${day(a.activated_at)} – ${day(a.period && a.period.end)}: ${a.status}${a.reasons.length ? ' (' + a.reasons.join(', ') + ')' : ''}` }),
        s('rect', { x: x0, y: laneA - 5, width: Math.max(2, x1 - x0), height: 10, rx: 3, fill: STATUS_COLORS[a.status] || '#888', opacity: 0.35 }),
        s('rect', { x: x0 - 1.5, y: laneA - 8, width: 3, height: 16, fill: STATUS_COLORS[a.status] || '#888' })));
    }

    // Time axis: years, and months when the range is short.
    const spanYears = (range.hi - range.lo) / YEAR_MS;
    const axisY = H - 16;
    for (let t = new Date(Date.UTC(range.lo.getUTCFullYear(), range.lo.getUTCMonth(), 1)); t <= range.hi; t = addMonths(t, 1)) {
      if (t < range.lo) continue;
      const m = t.getUTCMonth();
      const every = spanYears > 6 ? 12 : spanYears > 3 ? 6 : spanYears > 1.5 ? 3 : 1;
      if (m % every) continue;
      const tx = x(t);
      svg.append(s('line', { x1: tx, x2: tx, y1: M.t + PH, y2: M.t + PH + (m === 0 ? 6 : 3), stroke: '#4a5361' }));
      svg.append(s('text', { x: tx, y: axisY, 'text-anchor': 'middle', 'font-size': m === 0 ? 11 : 10, 'font-weight': m === 0 ? 700 : 400, fill: '#3d4756',
        text: m === 0 ? String(t.getUTCFullYear()) : iso(t).slice(0, 7) }));
    }

    // Corrections: a marker at each one's event time; hover, focus or click tells what it changed.
    const cs = corrections(known, hist);
    for (const c of cs) {
      const cx = x(c.e.time);
      const effects = (c.hist && c.hist.effects) || [];
      const changed = effects.length > 0;
      const label = `Correction: ${c.what}, event time ${day(c.e.time)}, recorded at seq ${c.e.seq}` +
        (changed ? '; held tier ' + effects.map((f) => `${day(f.from)} – ${f.until ? day(f.until) : 'on'}: ${f.before.name} → ${f.after.name}`).join('; ') : '; no change to the held tier');
      const g = s('g', { class: 'marker', 'data-testid': 'correction', 'data-seq': c.e.seq, 'data-type': c.e.type, tabindex: 0, role: 'button', 'aria-label': label },
        s('title', { text: label }),
        s('line', { class: 'stem', x1: cx, x2: cx, y1: M.t - 18, y2: M.t + PH, stroke: 'var(--fraud)', 'stroke-width': 1.5, 'stroke-dasharray': '3 3' }),
        s('rect', { class: 'ring', x: cx - 7, y: M.t - 32, width: 14, height: 14, transform: `rotate(45 ${cx} ${M.t - 25})`, fill: changed ? 'var(--fraud)' : '#ffffff', stroke: 'var(--fraud)', 'stroke-width': 2 }));
      for (const f of effects) { // the held tier it rewrote: what was known before it, dashed
        const fx0 = clampX(x(f.from)), fx1 = clampX(x(f.until || range.hi));
        if (fx1 > fx0) g.append(s('path', { class: 'ghost', d: `M${fx0},${y(f.before.rank)}L${fx1},${y(f.before.rank)}`, stroke: 'var(--fraud)', 'stroke-width': 2.5, 'stroke-dasharray': '6 4', fill: 'none', opacity: 0.8 }));
      }
      const pick = () => selectCorrection(c, g, label);
      g.addEventListener('click', pick);
      g.addEventListener('mouseenter', pick);
      g.addEventListener('focus', pick);
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(); } });
      svg.append(g);
    }
    if (sanctioned) legend.push(['sanctioned', 'var(--fraud)', 'band']);
    if (cs.length) legend.push(['correction (filled: it changed the held tier)', 'var(--fraud)', 'diamond'], ['held tier before the chosen correction', 'var(--fraud)', 'ghost']);

    $('chart').replaceChildren(svg);
    renderLegend(legend, points.length >= MAX_SAMPLES);
    const detail = $('detail');
    detail.classList.remove('on');
    detail.textContent = cs.length ? 'Hover, focus (Tab) or click a ◆ correction to see what it changed. Click the chart to move "at".'
      : 'No corrections as known. Click the chart to move "at".';
  }

  function selectCorrection(c, g, label) {
    for (const m of document.querySelectorAll('.marker.sel')) m.classList.remove('sel');
    g.classList.add('sel');
    const d = $('detail');
    d.classList.add('on');
    const effects = (c.hist && c.hist.effects) || [];
    const kids = [el('strong', { text: c.what }), ` — event time ${day(c.e.time)}, recorded at seq ${c.e.seq} (${day(c.e.recorded)}).`];
    if (c.sale) kids.push(` Sale of ${day(c.sale.time)}: ${money(c.sale.data.amount_usd_cents)}.`);
    if (effects.length) {
      kids.push(el('br'), 'Held tier: ');
      effects.forEach((f, i) => kids.push(i ? '; ' : '', `${day(f.from)} – ${f.until ? day(f.until) : 'onwards'}: `, el('strong', { text: `${f.before.name} → ${f.after.name}` })));
    } else kids.push(el('br'), 'It changed no held tier (tracks and exclusions may still differ).');
    d.replaceChildren(...kids);
  }

  function renderLegend(items, thinned) {
    const out = items.map(([name, color, kind]) => {
      const ic = s('svg', { width: 22, height: 12, 'aria-hidden': 'true' });
      if (kind === 'diamond') ic.append(s('rect', { x: 6, y: 1, width: 8, height: 8, transform: 'rotate(45 10 5)', fill: color }));
      else if (kind === 'band') ic.append(s('rect', { x: 1, y: 2, width: 20, height: 8, fill: color, opacity: 0.75 }));
      else ic.append(s('line', { x1: 1, x2: 21, y1: 6, y2: 6, stroke: color, 'stroke-width': kind === 'held' ? 3.5 : 2, 'stroke-dasharray': kind === 'ghost' ? '6 4' : null }));
      return el('span', {}, ic, name);
    });
    const dot = (fill, stroke, name) => el('span', {}, (() => { const i = s('svg', { width: 12, height: 12, 'aria-hidden': 'true' }); i.append(s('circle', { cx: 6, cy: 6, r: 4.5, fill, stroke, 'stroke-width': 1.5 })); return i; })(), name);
    out.push(dot('var(--mbs)', 'none', 'sale counted'), dot('var(--suspect)', 'none', 'suspected'), dot('var(--fraud)', 'none', 'confirmed fraud'), dot('#fff', 'var(--cancel)', 'cancelled'));
    out.push(el('span', {}, el('span', { class: 'swatch', 'aria-hidden': 'true' }), 'shaded: benefit periods · track heights: thresholds of the era in force'));
    if (thinned) out.push(el('span', { text: `(tracks drawn from ${MAX_SAMPLES} sampled instants: approximate)` }));
    if (!state.auditComplete) out.push(el('span', { text: `(only the first ${MAX_AUDIT_PAGES * AUDIT_PAGE} events are drawn)` }));
    $('legend').replaceChildren(...out);
  }

  function renderThresholds() {
    const eras = state.policy.eras;
    const tiers = (state.policy.tiers || []).slice(1);
    const rows = [];
    for (const era of eras) for (const [tr, def] of Object.entries(era.tracks)) {
      rows.push(el('tr', {}, el('td', { text: era.id }), el('td', { text: trackName(tr) + (def.until ? ` (until ${day(def.until)})` : '') }),
        ...def.thresholds.map((v) => el('td', { class: 'num', text: isMoney(tr) ? money(v) : count(v) }))));
    }
    $('thresholds').replaceChildren(el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: 'era', scope: 'col' }), el('th', { text: 'track', scope: 'col' }),
      ...tiers.map((t) => el('th', { text: t, scope: 'col', class: 'num' })))), el('tbody', {}, rows)));
  }

  // ---------- the documents beside the chart ----------

  function renderTier(d) {
    const tracks = Object.entries(d.tracks || {}).map(([k, v]) => [trackName(k), trackValue(k, v)]);
    const kv = [
      ['At', day(d.at)], ['Known', `seq ${d.known_seq}` + (d.known_at ? ` (recorded by ${day(d.known_at)})` : '')],
      ['Era', d.era || 'before the program'], ['Sanctioned', d.sanctioned ? 'yes' : 'no'],
      ...tracks,
      ['Excluded: fraud', money(d.excluded.fraud_usd_cents)], ['Excluded: cancelled', money(d.excluded.cancelled_usd_cents)],
      ['Benefit period', d.period ? `${day(d.period.start)} – ${day(d.period.end)} (${d.period.kind})` : '—'],
      ['First receipt', day(d.first_receipt)], ['Policy', d.policy],
    ];
    $('tier-card').replaceChildren(
      el('div', { class: 'tier-head' }, el('h2', { id: 'tier-title', text: 'Tier' }),
        el('span', { class: 'badges' }, d.sanctioned ? el('span', { class: 'badge warn', text: 'sanctioned' }) : null,
          el('span', { class: 'badge tier r' + d.tier.rank, 'data-testid': 'tier', 'data-rank': d.tier.rank, text: d.tier.name }))),
      el('dl', { class: 'kv' }, kv.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { class: /\$|^\d/.test(v) ? 'num-l' : '', text: v })])));
  }

  function renderBenefits(d) {
    const by = new Map();
    for (const e of d.entitled || []) { if (!by.has(e.benefit_id)) by.set(e.benefit_id, []); by.get(e.benefit_id).push(e); }
    const items = [...by.entries()].map(([id, lines]) => el('li', { 'data-testid': 'entitled', 'data-benefit': id },
      el('div', {}, el('strong', { text: id }), el('span', { class: 'cat', text: lines[0].category })),
      ...lines.map((l) => el('div', { class: 'lines', 'data-testid': 'entitled-line',
        text: `${l.granted_by}${l.offer_id ? ' · offer ' + l.offer_id : ''} · ${day(l.period.start)} – ${day(l.period.end)}${l.until ? ' · until ' + day(l.until) : ''}` }))));
    $('benefits-card').replaceChildren(el('h2', { id: 'ben-title', text: `Entitled benefits (${by.size})` }),
      items.length ? el('ul', { class: 'benefits' }, items) : el('p', { class: 'muted', text: d.sanctioned ? 'None: the partner is sanctioned.' : 'None at this instant.' }));
  }

  function renderActivations(d) {
    const rows = (d.activations || []).map((a) => el('tr', { 'data-testid': 'activation', 'data-seq': a.seq, 'data-status': a.status },
      el('td', { class: 'num', text: a.seq }),
      el('td', {}, el('span', { text: a.benefit_id }), a.offer_id ? el('span', { class: 'muted', text: ' · ' + a.offer_id }) : null),
      el('td', { class: 'nowrap', title: iso(a.activated_at), text: stamp(a.activated_at) }),
      el('td', { text: a.granted_by }),
      el('td', { class: 'nowrap', title: a.period ? `${iso(a.period.start)} – ${iso(a.period.end)}` : null, text: a.period ? `${iso(a.period.start).slice(0, 10)} – ${iso(a.period.end).slice(0, 10)}` : '—' }),
      el('td', {}, el('span', { class: 'badge ' + a.status, text: a.status })),
      el('td', { text: a.reasons.length ? a.reasons.join(', ') : '—' }),
      el('td', { text: a.contacted ? 'yes' : 'no' })));
    $('activations').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 8, class: 'empty', text: 'No activations up to this instant.' }))]));
  }

  // ---------- as known at ----------

  function renderKnown() {
    const ev = state.audit;
    const slider = $('known-at');
    $('known').disabled = ev.length === 0;
    slider.max = String(Math.max(1, ev.length));
    const used = state.docs.tier.known_seq;
    let idx = 0; // events known: the count of partner events with seq ≤ the knowledge used
    for (const e of ev) if (e.seq <= used) idx++;
    slider.value = String(Math.max(1, idx));
    const last = ev[idx - 1];
    const all = idx === ev.length && !state.knownSeq && !state.knownAt;
    const text = last ? `${idx} of ${ev.length} events · seq ${last.seq} · ${last.type} · recorded ${day(last.recorded)}` + (all ? ' · now' : '') : 'no events known';
    $('known-text').textContent = text;
    slider.setAttribute('aria-valuetext', text);
    $('known-date').value = state.knownAt;
    $('known-prev').disabled = idx <= 1;
    $('known-next').disabled = idx >= ev.length;
  }
  function knowIndex(i) {
    const ev = state.audit;
    i = Math.max(1, Math.min(ev.length, i));
    state.knownAt = '';
    state.knownSeq = i >= ev.length ? 0 : ev[i - 1].seq;
    writeHash();
    loadPartner();
  }

  // ---------- attention ----------

  async function loadAttention() {
    $('attention-error').textContent = '';
    const atText = $('att-at').value.trim();
    const at = parseInstant(atText);
    if (at === undefined) { $('attention-error').textContent = 'At: an RFC 3339 instant or a date YYYY-MM-DD'; return; }
    busy('Loading the attention report…');
    try {
      const items = [];
      let from = '', doc;
      for (let i = 0; i < MAX_ATTENTION_PAGES; i++) {
        doc = await api('/v1/attention' + qs({ at: instantText(atText), limit: 500, from }));
        items.push(...(doc.items || []));
        if (!doc.next) break;
        from = doc.next;
      }
      $('attention-note').textContent = `${count(items.length)} item${items.length === 1 ? '' : 's'} at ${day(doc.at)}, as known at seq ${doc.known_seq}` + (doc.next ? ' (first pages only)' : '');
      const rows = items.map((it) => el('tr', { 'data-testid': 'attention-item' },
        el('td', {}, el('span', { class: 'badge ' + (it.kind === 'fraud_hold' ? 'revoked' : 'ended'), text: it.kind })),
        el('td', {}, el('a', { href: '#partner=' + encodeURIComponent(it.partner_id), text: it.partner_id, onclick: (ev) => { ev.preventDefault(); openPartner(it.partner_id, at ? iso(at) : ''); } })),
        el('td', { text: day(it.since) }),
        el('td', { text: it.benefit_id ? `#${it.activation_seq} ${it.benefit_id}` : it.sale_id ? 'sale ' + it.sale_id : '—' }),
        el('td', { text: it.detail })));
      $('attention').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'empty', text: 'Nothing needs attention.' }))]));
    } catch (e) {
      $('attention-error').textContent = `${e.code || 'error'}: ${e.message}`;
    } finally { busy(''); }
  }
  function openPartner(id, at) {
    state.view = 'partner'; state.partner = id; state.at = at || state.at; state.knownSeq = 0; state.knownAt = '';
    route();
  }

  // ---------- what-if ----------

  async function runWhatIf() {
    $('whatif-error').textContent = '';
    const file = $('wi-file').files[0];
    if (!file) { $('whatif-error').textContent = 'Choose a policy file.'; return; }
    const at = parseInstant($('wi-at').value);
    if (at === undefined) { $('whatif-error').textContent = 'At: an RFC 3339 instant or a date YYYY-MM-DD'; return; }
    const text = await file.text();
    const req = { policy_file: text, limit: WHATIF_PAGE, history: $('wi-history').checked };
    if (at) req.at = instantText($('wi-at').value);
    busy('Comparing every partner…');
    try {
      const changes = [];
      let doc, partners = 0, first = null;
      for (let i = 0; i < MAX_WHATIF_PAGES; i++) {
        doc = await api('/v1/whatif', { method: 'POST', body: JSON.stringify(req) });
        if (!first) { first = doc; req.at = doc.at; req.known_seq = doc.known_seq; }
        partners += doc.partners;
        changes.push(...(doc.changes || []));
        if (!doc.next_partner) break;
        req.after_partner = doc.next_partner;
      }
      $('whatif-note').textContent = `At ${day(first.at)}, as known at seq ${first.known_seq}: live ${first.policy} vs ${first.whatif_policy} — ` +
        `${count(partners)} partner${partners === 1 ? '' : 's'} examined, ${count(changes.length)} changed` + (doc.next_partner ? ' (first pages only)' : '');
      const list = (xs) => (xs && xs.length ? xs.join(', ') : '—');
      const rows = changes.map((c) => el('tr', { 'data-testid': 'whatif-change' },
        el('td', {}, el('a', { href: '#partner=' + encodeURIComponent(c.partner_id), text: c.partner_id, onclick: (ev) => { ev.preventDefault(); openPartner(c.partner_id, iso(first.at)); } })),
        el('td', { class: 'nowrap', text: c.tier.from === c.tier.to ? tierName(c.tier.from) : `${tierName(c.tier.from)} → ${tierName(c.tier.to)}` }),
        el('td', { text: list(c.entitled.gained) }), el('td', { text: list(c.entitled.lost) }),
        el('td', { text: list((c.activations || []).map((a) => `#${a.seq} ${a.benefit_id} ${a.from} → ${a.to}`)) }),
        el('td', { text: c.history ? `${day(c.history.first_difference)}: ${tierName(c.history.from)} → ${tierName(c.history.to)}` : '—' })));
      $('whatif').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No partner changes under that policy.' }))]));
    } catch (e) {
      $('whatif-error').textContent = `${e.code || 'error'}: ${e.message}`;
    } finally { busy(''); }
  }

  // ---------- wiring ----------

  function init() {
    // A blocked load or style is a bug of the page: count it where a test sees it.
    document.addEventListener('securitypolicyviolation', (e) => {
      document.body.dataset.cspViolations = String(Number(document.body.dataset.cspViolations || 0) + 1);
      console.error('CSP violation', e.violatedDirective, e.blockedURI);
    });
    readHash();
    $('signin-form').addEventListener('submit', (ev) => { ev.preventDefault(); signIn($('token').value, $('signin-partner').value.trim()); $('token').value = ''; });
    $('signout').addEventListener('click', () => signOut(''));
    for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => { state.view = b.dataset.view; route(); });
    $('partner-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const at = parseInstant($('at').value);
      if (at === undefined) { $('partner-error').textContent = 'At: an RFC 3339 instant such as 2024-06-30T00:00:00Z, or a date 2024-06-30'; return; }
      const id = $('partner').value.trim();
      if (id !== state.partner) { state.knownSeq = 0; state.knownAt = ''; }
      state.partner = id; state.at = instantText($('at').value);
      writeHash(); loadPartner();
    });
    const slider = $('known-at');
    let timer = null;
    slider.addEventListener('input', () => { // redraw once the control rests
      clearTimeout(timer);
      const i = Number(slider.value);
      const e = state.audit[i - 1];
      if (e) $('known-text').textContent = `${i} of ${state.audit.length} events · seq ${e.seq} · ${e.type} · recorded ${day(e.recorded)}`;
      timer = setTimeout(() => knowIndex(i), 150);
    });
    $('known-prev').addEventListener('click', () => knowIndex(Number(slider.value) - 1));
    $('known-next').addEventListener('click', () => knowIndex(Number(slider.value) + 1));
    $('known-now').addEventListener('click', () => { state.knownSeq = 0; state.knownAt = ''; writeHash(); loadPartner(); });
    $('known-date').addEventListener('change', () => {
      const k = instantText($('known-date').value);
      if (k === undefined) { $('partner-error').textContent = 'Recorded by: an RFC 3339 instant or a date'; return; }
      state.knownAt = k; state.knownSeq = 0; writeHash(); loadPartner();
    });
    $('attention-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadAttention(); });
    $('whatif-form').addEventListener('submit', (ev) => { ev.preventDefault(); runWhatIf(); });
    $('policy-link').addEventListener('click', async (ev) => {
      ev.preventDefault();
      try {
        const r = await fetch('/v1/policy', { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' });
        const url = URL.createObjectURL(await r.blob());
        const a = el('a', { href: url, download: 'policy.json' });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      } catch (e) { $('whatif-error').textContent = 'policy: ' + e.message; }
    });
    window.addEventListener('hashchange', () => { readHash(); route(); });
    show();
    if (state.token) signIn(state.token, state.partner);
  }
  init();
})();
