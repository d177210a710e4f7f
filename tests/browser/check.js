'use strict';
/*
 * The verification page and the licence faces, seen by Debian's chromium
 * (headless, driven by playwright-core with executablePath: no browser is
 * ever downloaded).  tests/browser_test.py starts the real server and
 * writes the fixtures this reads (argv[2]).
 *
 * What it asserts:
 *   - every result (valid, suspended, expired, not yet valid, superseded,
 *     revoked, invalid signature, unknown key, not found, malformed) shows
 *     its state in the DOM: data-result, the state's class and tone class,
 *     role=status, its words in Chinese and English, the tone's colour
 *     (green, amber, red) and a mark; the licence details where the public
 *     view allows and a personal code only masked;
 *   - with JavaScript off, at 360x740: no horizontal scrolling, the verdict
 *     within the first screen, one h1, lang="zh-CN", text contrast of at
 *     least 4.5:1 (3:1 for large text), Chinese drawn with a CJK font;
 *   - every request a page makes stays on its own origin, the page has no
 *     script, is under 30 KiB, is never cached, carries its CSP;
 *   - a holder named <script>...</script> is shown as those characters;
 *   - the round trip through pixels: a face rendered and screenshotted, its
 *     QR code decoded by zbarimg, the decoded URL opened: "valid"; the
 *     licence revoked: red on the same URL;
 *   - the compact form, decoded from a face's pixels, pasted into /v;
 *   - a paper copy typed into /v and sent to POST /api/v1/verify: found and
 *     valid; with a wrong holder code: not found, and nothing shown;
 *   - the face of every catalog type, as its sample and with every value at
 *     its longest: every required value in the SVG's text, every text inside
 *     the face and clear of the QR code and of each other, every value
 *     inside its box (data-wrap wide, data-lines high) at a legible size
 *     (LEGIBLE_MIN) and never marked data-overflow, drawn in a Noto CJK
 *     font (no tofu); every text holding a required value painted (dark
 *     pixels in its box, in the browser's screenshot and in face.png, with
 *     a control showing that unpainted text fails); and face.png a PNG of
 *     twice the layout's size whose QR code zbarimg decodes;
 *   - a presentation (亮证码, SPEC §10): its QR image decoded by zbarimg,
 *     the /p/ page showing the chosen licences with their status colours
 *     and the time left (counting down with JavaScript on, its script
 *     allowed by the CSP's hash); after its ttl the plain expired page;
 *   - an annotated copy's PDF (SPEC §12) opens in chromium's own PDF viewer
 *     with its page counted and no error, where the same bytes cut short
 *     (the control) bring up the viewer's error dialog.
 * Screenshots of each go to fixtures.artifacts.
 */
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const fx = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const BASE = fx.base;
const ORIGIN = new URL(BASE).origin;
const ART = fx.artifacts;
const PAGE_MAX = 30 * 1024;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.log('FAIL: ' + what);
  }
  return cond;
}

let knownFailures = 0;
function known(cond, what) {
  if (!cond) {
    knownFailures++;
    console.log('KNOWN: ' + what);
  }
  return cond;
}

function zbar(file) {
  try {
    return execFileSync('zbarimg', ['--raw', '-q', '--nodbus', '-Sdisable', '-Sqrcode.enable', file],
      { stdio: ['ignore', 'pipe', 'ignore'] }).toString().replace(/\n$/, '');
  } catch (e) {
    return null;
  }
}

/* Tones by colour: green, amber, red. */
function toneOf(rgb) {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(rgb || '');
  if (!m) return '?';
  const [r, g, b] = [+m[1], +m[2], +m[3]];
  if (g > r && g > b) return 'ok';
  if (r > g && g > b && g > r * 0.45) return 'warn';
  if (r > g * 2 && r > b * 2) return 'bad';
  return '?';
}

/* Run in the page: what a person and a screen reader meet. */
function pageFacts() {
  function rgba(s) {
    const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/.exec(s);
    return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : [0, 0, 0, 1];
  }
  function lum(c) {
    const v = c.slice(0, 3).map((x) => {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function background(el) {
    for (; el; el = el.parentElement) {
      const c = rgba(getComputedStyle(el).backgroundColor);
      if (c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  }
  const lowContrast = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const cs = getComputedStyle(el);
    const fg = lum(rgba(cs.color));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const px = parseFloat(cs.fontSize);
    const large = px >= 24 || (px >= 18.66 && +cs.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5))
      lowContrast.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
  }
  const sec = document.querySelector('section.result');
  const urls = [];
  for (const el of document.querySelectorAll('[src],[href],[action],[srcset],[poster],[data]'))
    for (const a of ['src', 'href', 'action', 'srcset', 'poster', 'data'])
      if (el.hasAttribute(a)) urls.push(el.getAttribute(a));
  const rect = sec ? sec.getBoundingClientRect() : null;
  return {
    lang: document.documentElement.getAttribute('lang'),
    result: sec ? sec.getAttribute('data-result') : null,
    classes: sec ? [...sec.classList] : [],
    role: sec ? sec.getAttribute('role') : null,
    bg: sec ? getComputedStyle(sec).backgroundColor : null,
    mark: sec && sec.querySelector('.mark') ? sec.querySelector('.mark').textContent : null,
    h1: [...document.querySelectorAll('h1')].map((h) => h.textContent),
    h2: document.querySelectorAll('h2').length,
    text: document.body.innerText,
    scripts: document.querySelectorAll('script').length,
    scrollWidth: document.documentElement.scrollWidth,
    verdictBottom: rect ? rect.bottom : null,
    styles: [...document.querySelectorAll('link,style')].map((e) => e.tagName),
    urls,
    lowContrast,
  };
}

/* The platform fonts chromium drew a node's own text with. */
async function fontsOf(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('DOM.enable');
  await cdp.send('CSS.enable');
  const doc = await cdp.send('DOM.getDocument', { depth: -1 });
  const { nodeIds } = await cdp.send('DOM.querySelectorAll',
    { nodeId: doc.root.nodeId, selector });
  const fonts = {};
  for (const id of nodeIds) {
    const r = await cdp.send('CSS.getPlatformFontsForNode', { nodeId: id });
    for (const f of r.fonts)
      fonts[f.familyName] = (fonts[f.familyName] || 0) + f.glyphCount;
  }
  await cdp.detach();
  return fonts;
}

/* Chinese characters (CJK ideographs, CJK and fullwidth punctuation). */
function cjkCount(s) {
  return (s.match(/[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]/g) || []).length;
}

/* No tofu: chromium drew at least as many glyphs with a CJK font as the
 * text has Chinese characters (a character no font has is drawn as an
 * empty box by the first font, which is not a CJK one). */
async function checkCjkGlyphs(page, selector, name) {
  const fonts = await fontsOf(page, selector);
  const text = await page.evaluate((sel) =>
    [...document.querySelectorAll(sel)].map((e) => e.textContent).join(''), selector);
  const cjk = Object.entries(fonts).filter(([f]) => /CJK/.test(f))
    .reduce((n, [, g]) => n + g, 0);
  check(cjk > 0 && cjk >= cjkCount(text),
    `${name}: ${cjkCount(text)} Chinese characters, ${cjk} CJK glyphs (${JSON.stringify(fonts)})`);
  return fonts;
}

/* Open a page with every request recorded; check what every /v page
 * must be.  Returns the facts. */
async function openPage(ctx, url, name, opts = {}) {
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const resp = await page.goto(url, { waitUntil: 'load' });
  return inspect(page, resp, requests, name, opts);
}

const TIMING = process.env.CS_BROWSER_TIMING === '1';
function lap(name, what, t) {
  if (TIMING) console.log(`  ${name}: ${what} ${Date.now() - t} ms`);
  return Date.now();
}

async function inspect(page, resp, requests, name, opts = {}) {
  let t = Date.now();
  const body = await resp.body();
  const h = resp.headers();
  check(resp.status() === 200, `${name}: status ${resp.status()}`);
  check((h['content-type'] || '').startsWith('text/html'), `${name}: content type ${h['content-type']}`);
  check(body.length < PAGE_MAX, `${name}: ${body.length} bytes, over 30 KiB`);
  check(/no-store/.test(h['cache-control'] || ''), `${name}: Cache-Control ${h['cache-control']}`);
  check(/default-src 'none'/.test(h['content-security-policy'] || ''), `${name}: CSP ${h['content-security-policy']}`);
  await page.waitForTimeout(50);  /* anything a page would fetch late */
  const off = requests.filter((u) => new URL(u).origin !== ORIGIN);
  check(off.length === 0, `${name}: requests left the origin: ${off.join(' ')}`);
  check(requests.length === 1, `${name}: the page made ${requests.length - 1} requests of its own: ${requests.slice(1).join(' ')}`);
  t = lap(name, 'load', t);
  const f = await page.evaluate(pageFacts);
  t = lap(name, 'facts', t);
  check(f.lang === 'zh-CN', `${name}: lang ${f.lang}`);
  check(f.scripts === (opts.scripts || 0), `${name}: ${f.scripts} scripts`);
  check(f.styles.every((t) => t === 'STYLE'), `${name}: a stylesheet link`);
  const external = f.urls.filter((u) => /^[a-z][a-z0-9+.-]*:|^\/\//i.test(u));
  check(external.length === 0, `${name}: external references ${external.join(' ')}`);
  check(f.scrollWidth <= 360, `${name}: ${f.scrollWidth} px wide at 360`);
  check(f.h1.length === 1, `${name}: ${f.h1.length} h1`);
  check(f.lowContrast.length === 0, `${name}: low contrast: ${f.lowContrast.join('; ')}`);
  await checkCjkGlyphs(page, 'h1', name);
  t = lap(name, 'fonts', t);
  if (opts.shot !== false)
    await page.screenshot({ path: path.join(ART, `${name}.png`) });
  lap(name, 'screenshot', t);
  return { page, facts: f };
}

function checkState(name, f, want) {
  check(f.result === want.result, `${name}: data-result ${f.result}, want ${want.result}`);
  check(f.classes.includes('state-' + want.result), `${name}: classes ${f.classes}`);
  check(f.classes.includes('tone-' + want.tone), `${name}: classes ${f.classes}, want tone-${want.tone}`);
  check(f.role === 'status', `${name}: role ${f.role}`);
  check(toneOf(f.bg) === want.tone, `${name}: colour ${f.bg} is not ${want.tone}`);
  check(f.mark === { ok: '✓', warn: '!', bad: '✗' }[want.tone], `${name}: mark ${f.mark}`);
  check(f.verdictBottom !== null && f.verdictBottom <= 740, `${name}: the verdict ends at ${f.verdictBottom} px, below the first screen`);
  check(f.h2 >= 1, `${name}: no h2`);
  for (const t of want.texts || [])
    check(f.text.includes(t), `${name}: text lacks "${t}"`);
  for (const t of want.absent || [])
    check(!f.text.includes(t), `${name}: text shows "${t}"`);
}

async function states(ctx) {
  /* One tab for all: what each load requests is counted afresh. */
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  for (const p of fx.pages) {
    requests.length = 0;
    const resp = await page.goto(BASE + p.path, { waitUntil: 'load' });
    const { facts } = await inspect(page, resp, requests, 'state-' + p.name);
    checkState('state-' + p.name, facts, p);
  }
  await page.close();
}

async function api(method, p, body, token) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(BASE + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, json };
}

/* Chromium's PDF viewer (an extension frame inside the page) on a page that
 * was navigated to a PDF: "pages" once it has counted them, "error" when
 * its error dialog came up, null if neither within 20 s.  The viewer's
 * shadow DOM is chromium's own and may change; both outcomes are looked
 * for, so a change shows as null, never as a pass. */
async function pdfViewerOutcome(page) {
  for (let i = 0; i < 80; i++) {
    await page.waitForTimeout(250);
    const fr = page.frames().find((f) => f.url().startsWith('chrome-extension://'));
    if (!fr) continue;
    const got = await fr.evaluate(() => {
      const sr = document.querySelector('pdf-viewer')?.shadowRoot;
      if (!sr) return null;
      if (sr.querySelector('viewer-error-dialog')) return { error: true };
      const sel = sr.querySelector('viewer-toolbar')?.shadowRoot?.querySelector('viewer-page-selector');
      const m = /\/\s*(\d+)/.exec(sel?.shadowRoot?.textContent || '');
      return m && Number(m[1]) > 0 ? { pages: Number(m[1]) } : null;
    }).catch(() => null);
    if (got) return got;
  }
  return null;
}

async function copyPdf(browser) {
  const id = fx.faces[0].id;  /* in force: the round trip's is revoked by now */
  const made = await api('POST', `/api/v1/certificates/${encodeURIComponent(id)}/copies`,
    { purpose: '办理排污许可变更', used_by: { name: '深圳市某某环保科技有限公司' } }, fx.reader_token);
  check(made.status === 201 && made.json && made.json.pdf, `copy pdf: made (${made.status})`);
  if (!made.json || !made.json.pdf) return;
  const ctx = await browser.newContext({ viewport: { width: 1123, height: 794 },
    extraHTTPHeaders: { Authorization: 'Bearer ' + fx.reader_token } });
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const resp = await page.goto(BASE + made.json.pdf);
    check(resp.status() === 200 && resp.headers()['content-type'] === 'application/pdf',
      `copy pdf: 200 application/pdf (${resp.status()} ${resp.headers()['content-type']})`);
    const bytes = await resp.body();
    const got = await pdfViewerOutcome(page);
    check(got && got.pages === 1, `copy pdf: chromium's viewer shows its one page (${JSON.stringify(got)})`);
    check(errors.length === 0, `copy pdf: no page errors (${errors})`);
    /* The control: the same PDF cut in half, served by the browser itself. */
    const cut = await ctx.newPage();
    await cut.route('**/cut.pdf', (r) => r.fulfill({ status: 200, contentType: 'application/pdf',
      body: bytes.subarray(0, bytes.length >> 1) }));
    await cut.goto(BASE + '/cut.pdf');
    const bad = await pdfViewerOutcome(cut);
    check(bad && bad.error, `copy pdf: a truncated PDF brings up the viewer's error (${JSON.stringify(bad)})`);
  } finally {
    await ctx.close();
  }
}

/* Screenshot a face and decode its QR code from the pixels. */
async function faceQr(faceCtx, id, form, name) {
  const page = await faceCtx.newPage();
  const q = form ? '?form=' + form : '';
  const resp = await page.goto(`${BASE}/api/v1/certificates/${encodeURIComponent(id)}/face.svg${q}`);
  check(resp.status() === 200, `${name}: face.svg status ${resp.status()}`);
  const file = path.join(ART, `${name}.png`);
  await page.screenshot({ path: file });
  await page.close();
  return zbar(file);
}

async function roundTrip(ctx, faceCtx) {
  const rt = fx.roundtrip;
  const url = await faceQr(faceCtx, rt.id, null, 'roundtrip-1-face');
  check(url === `${BASE}/v/${rt.token}`, `roundtrip: decoded ${url}`);
  if (!url) return;
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  let resp = await page.goto(url);
  let { facts } = await inspect(page, resp, requests, 'roundtrip-2-valid');
  checkState('roundtrip-2-valid', facts, { result: 'valid', tone: 'ok', texts: ['有效'] });
  const r = await api('POST', `/api/v1/certificates/${encodeURIComponent(rt.id)}/revoke`,
    { reason: '吊销测试', kind: 'revoked' }, fx.issuer_token);
  check(r.status === 200, `roundtrip: revoke ${r.status}`);
  requests.length = 0;
  resp = await page.goto(url);
  ({ facts } = await inspect(page, resp, requests, 'roundtrip-3-revoked'));
  checkState('roundtrip-3-revoked', facts, { result: 'revoked', tone: 'bad', texts: ['已吊销', 'Revoked'], absent: ['吊销测试'] });
  await page.close();
}

/* A presentation (亮证码, SPEC §10) through pixels: the portal makes one,
 * its QR image (from the API) decoded by zbarimg, the URL opened on the
 * phone with JavaScript off: the two licences with their status and the
 * time left, to the page's standards; after the ttl the same URL is the
 * plain expired page, with no licence on it. */
async function presentation(ctx) {
  const pr = fx.present;
  const TTL = 6;
  const made = await api('POST', `/api/v1/holders/${pr.holder}/presentations`,
    { licences: pr.ids, ttl: TTL }, fx.portal_token);
  check(made.status === 201 && made.json && made.json.code, `presentation: made ${made.status}`);
  if (!made.json || !made.json.code) return;
  const until = Date.now() + TTL * 1000;
  const r = await fetch(`${BASE}/api/v1/holders/${pr.holder}/presentations/${made.json.code}/qr.png`,
    { headers: { Authorization: 'Bearer ' + fx.portal_token } });
  const file = path.join(ART, 'presentation-0-qr.png');
  fs.writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  const url = zbar(file);
  check(url === `${BASE}/p/${made.json.code}`, `presentation: decoded ${url}`);
  if (!url) return;
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (q) => requests.push(q.url()));
  let resp = await page.goto(url);
  let { facts } = await inspect(page, resp, requests, 'presentation-1-shown', { scripts: 1 });
  check(facts.result === 'presentation', `presentation: data-result ${facts.result}`);
  for (const t of pr.numbers.concat([pr.holder_name, '剩余', '已暂扣', 'Suspended', '有效']))
    check(facts.text.includes(t), `presentation: text lacks "${t}"`);
  for (const t of pr.not_shown)
    check(!facts.text.includes(t), `presentation: shows "${t}", not presented`);
  const statuses = await page.evaluate(() => [...document.querySelectorAll('[data-status]')]
    .map((e) => [e.getAttribute('data-status'), getComputedStyle(e).backgroundColor]));
  check(JSON.stringify(statuses.map((x) => x[0])) === '["valid","suspended"]',
    `presentation: statuses ${JSON.stringify(statuses)}`);
  check(statuses.length === 2 && toneOf(statuses[0][1]) === 'ok' && toneOf(statuses[1][1]) === 'warn',
    `presentation: status colours ${JSON.stringify(statuses)}`);
  const left = await page.evaluate(() => Number(document.querySelector('[data-seconds-left]')
    ?.getAttribute('data-seconds-left')));
  check(left > 0 && left <= TTL, `presentation: ${left} s left`);
  await page.close();
  /* After the ttl: a fresh tab on the same URL. */
  await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now()) + 1500));
  const page2 = await ctx.newPage();
  const requests2 = [];
  page2.on('request', (q) => requests2.push(q.url()));
  resp = await page2.goto(url);
  ({ facts } = await inspect(page2, resp, requests2, 'presentation-2-expired'));
  check(facts.result === 'presentation_expired', `presentation: after ttl, data-result ${facts.result}`);
  check(facts.text.includes('亮证码已过期') && facts.text.includes('expired'),
    'presentation: the expired page says so');
  for (const t of pr.numbers.concat([pr.holder_name]))
    check(!facts.text.includes(t), `presentation: the expired page shows "${t}"`);
  const v = await api('POST', '/api/v1/verify', { qr: url });
  check(v.json && v.json.result === 'presentation_expired' && !v.json.certificates,
    `presentation: verify after ttl ${JSON.stringify(v.json)}`);
  await page2.close();
  await countdown(ctx);
}

/* With JavaScript on, the presentation page's time left counts down: its
 * one inline script runs under the page's CSP (allowed by its hash, with
 * no violation reported) and the minutes and seconds shown fall as the
 * clock runs.  A ttl of its own, long enough for a loaded machine. */
async function countdown(ctx) {
  const pr = fx.present;
  const made = await api('POST', `/api/v1/holders/${pr.holder}/presentations`,
    { licences: pr.ids, ttl: 120 }, fx.portal_token);
  check(made.status === 201 && made.json && made.json.code, `countdown: made ${made.status}`);
  if (!made.json || !made.json.code) return;
  const jsCtx = await ctx.browser().newContext({ viewport: { width: 360, height: 740 },
    locale: 'zh-CN', isMobile: true, hasTouch: true });
  const page = await jsCtx.newPage();
  const problems = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused/.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(`${BASE}/p/${made.json.code}`);
  const shown = () => page.evaluate(() => {
    const mm = [...document.querySelectorAll('.left .mm')].map((e) => e.textContent);
    const ss = [...document.querySelectorAll('.left .ss')].map((e) => e.textContent);
    return { mm, ss, secs: 60 * Number(mm[0]) + Number(ss[0]) };
  });
  const a = await shown();
  await page.waitForTimeout(3000);
  const b = await shown();
  check(a.mm.length === 2 && new Set(a.mm.concat(b.mm)).size <= 2 && /^\d\d$/.test(b.ss[0]) &&
    b.ss[0] === b.ss[1], `countdown: both languages show one time ${JSON.stringify(b)}`);
  const fell = a.secs - b.secs;
  check(a.secs <= 120 && fell >= 2 && fell <= 5, `countdown: ${a.secs} s then ${b.secs} s three seconds later`);
  check(problems.length === 0, `countdown: ${problems.join('; ')}`);
  await jsCtx.close();
}

async function submitForm(page, button) {
  const [resp] = await Promise.all([page.waitForNavigation(), page.click(button)]);
  return resp;
}

async function pasteCompact(ctx, faceCtx) {
  const m = fx.manual;
  const text = await faceQr(faceCtx, m.id, 'compact', 'paste-1-face-compact');
  check(text !== null && text.startsWith('EL1:'), `compact: decoded ${text}`);
  const { page } = await openPage(ctx, BASE + '/v', 'paste-2-form');
  check(await page.locator('textarea#qr').count() === 1, 'forms: the paste box');
  check(await page.locator('input#licence').count() === 1, 'forms: the licence input');
  check(await page.locator('input#holder_code').count() === 1, 'forms: the holder code input');
  if (!text) return;
  await page.fill('textarea#qr', text + '\r\n');  /* as a scanner ends it */
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const resp = await submitForm(page, 'form:has(textarea#qr) button');
  const { facts } = await inspect(page, resp, requests, 'paste-3-result');
  checkState('paste-3-result', facts, { result: 'valid', tone: 'ok', texts: [m.holder_name, m.number] });
  await page.close();
}

async function paperCopy(ctx) {
  const m = fx.manual;
  const cases = [
    { name: 'manual-1-valid', licence: `  ${m.number} `, code: m.holder_code.replace(/(.{6})/g, '$1 ').toLowerCase(),
      want: { result: 'valid', tone: 'ok', texts: [m.holder_name, m.number, '与所填编号和持证主体代码相符'] } },
    { name: 'manual-2-wrong-code', licence: m.id, code: '91350100M000100Y43',
      want: { result: 'not_found', tone: 'bad', texts: ['未找到相符的证照', 'No matching licence'], absent: [m.holder_name, m.number] } },
  ];
  for (const c of cases) {
    const page = await ctx.newPage();
    await page.goto(BASE + '/v');
    await page.fill('input#licence', c.licence);
    await page.fill('input#holder_code', c.code);
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    const resp = await submitForm(page, 'form:has(input#licence) button');
    const { facts } = await inspect(page, resp, requests, c.name);
    checkState(c.name, facts, c.want);
    await page.close();
  }
  /* The same through the API (SPEC §5). */
  let r = await api('POST', '/api/v1/verify', { number: m.number, holder_code: m.holder_code });
  check(r.json && r.json.result === 'valid', `verify by number: ${JSON.stringify(r.json)}`);
  check(r.json && r.json.certificate && r.json.certificate.holder.name === m.holder_name, 'verify by number: the public view');
  r = await api('POST', '/api/v1/verify', { id: m.id, holder_code: '91350100M000100Y43' });
  check(r.json && r.json.result === 'not_found' && r.json.certificate === null,
    `verify by id, wrong holder: ${JSON.stringify(r.json)}`);
}

/* Run in a face: every <text>'s content and box (and the smallest font
 * size of its lines), its layout box attributes, the QR code's box. */
function faceFacts() {
  const svg = document.documentElement;
  const vb = svg.viewBox.baseVal;
  const num = (v) => (v === null ? null : parseFloat(v));
  const texts = [...document.querySelectorAll('text')].map((t) => {
    const r = t.getBoundingClientRect();
    const sizes = [t, ...t.querySelectorAll('tspan')].map((e) => parseFloat(getComputedStyle(e).fontSize));
    return { content: t.textContent, x: r.left, y: r.top, r: r.right, b: r.bottom,
      size: Math.min(...sizes), fs0: sizes[0],
      ax: num((t.getAttribute('x') || '').split(/[\s,]+/)[0] || null), ay: num(t.getAttribute('y')),
      anchor: getComputedStyle(t).textAnchor, wrap: num(t.getAttribute('data-wrap')),
      lines: num(t.getAttribute('data-lines')), overflow: t.getAttribute('data-overflow') };
  });
  const qrg = [...document.querySelectorAll('g')].find((g) => g.querySelector('path') &&
    /scale/.test(g.getAttribute('transform') || ''));
  const q = qrg ? qrg.getBoundingClientRect() : null;
  return { w: vb.width, h: vb.height, texts,
    qr: q ? { x: q.left, y: q.top, r: q.right, b: q.bottom } : null };
}

/* The smallest font size a face's text may have (face.c's LEGIBLE_MIN). */
const LEGIBLE_MIN = 9;
/* face.c's box model: a data-lines="N" text at font size s with its first
 * baseline at y spans y - ASCENT*s to y + (N-1)*PITCH*s + DESCENT*s; the
 * browser rounds a text's box to whole pixels. */
const ASCENT = 1.16;
const DESCENT = 0.29;
const PITCH = 1.3;
const BOX_SLACK = 1.5;

/* The box the layout gives a text: data-wrap wide from x as its anchor
 * says, data-lines lines high; null for a text without one. */
function layoutBox(t) {
  if (!(t.wrap > 0) || !(t.lines > 0) || t.ax === null || t.ay === null) return null;
  const x = t.anchor === 'end' ? t.ax - t.wrap : t.anchor === 'middle' ? t.ax - t.wrap / 2 : t.ax;
  return { x, r: x + t.wrap, y: t.ay - ASCENT * t.fs0, b: t.ay + (t.lines - 1) * PITCH * t.fs0 + DESCENT * t.fs0 };
}

/* A minimal PNG reader (8-bit grey, RGB or RGBA, not interlaced: what
 * chromium's screenshots and cairo write) for the pixel checks. */
function readPng(buf) {
  let pos = 8;
  let w = 0;
  let h = 0;
  let ctype = -1;
  let ok = buf.length > 8 && buf.toString('latin1', 1, 4) === 'PNG';
  const idat = [];
  while (ok && pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      w = data.readUInt32BE(0);
      h = data.readUInt32BE(4);
      ctype = data[9];
      ok = data[8] === 8 && data[12] === 0;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  const bpp = { 0: 1, 2: 3, 4: 2, 6: 4 }[ctype];
  if (!ok || !bpp) throw new Error(`unsupported PNG (colour type ${ctype})`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = w * bpp;
  const px = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? px[row + i - bpp] : 0;
      const b = y > 0 ? px[row - stride + i] : 0;
      const c = i >= bpp && y > 0 ? px[row - stride + i - bpp] : 0;
      let v = raw[src + i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[row + i] = v & 0xff;
    }
  }
  return { w, h, bpp, px };
}

/* Pixels darker than mid-grey in a box (user units, times scale): the
 * layouts draw text in #1a1a1a on #fffdf6, and nothing else dark sits
 * in a value's box. */
function darkPixels(img, box, scale) {
  const x0 = Math.max(0, Math.floor(box.x * scale));
  const y0 = Math.max(0, Math.floor(box.y * scale));
  const x1 = Math.min(img.w, Math.ceil(box.r * scale));
  const y1 = Math.min(img.h, Math.ceil(box.b * scale));
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * img.w + x) * img.bpp;
      const lum = img.bpp >= 3 ? 0.299 * img.px[o] + 0.587 * img.px[o + 1] + 0.114 * img.px[o + 2] : img.px[o];
      if (lum < 128) n++;
    }
  }
  return n;
}

/* Painted text leaves at least this many dark pixels per character at
 * the layout's own size. */
const DARK_PER_GLYPH = 3;
function glyphCount(s) {
  return s.replace(/\s+/g, '').length;
}

function overlap(a, b) {
  const w = Math.min(a.r, b.r) - Math.max(a.x, b.x);
  const h = Math.min(a.b, b.b) - Math.max(a.y, b.y);
  /* Line boxes of neighbouring lines share a pixel or two of leading. */
  return w > 1 && h > 3;
}

let blankControlled = false;
/* The fewest dark pixels per character seen, printed for tuning
 * DARK_PER_GLYPH. */
const inkPerGlyph = { shot: Infinity, png: Infinity };

async function faces(faceCtx) {
  const page = await faceCtx.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  for (const face of fx.faces) {
    const name = 'face-' + face.name;
    let t = Date.now();
    requests.length = 0;
    const resp = await page.goto(`${BASE}/api/v1/certificates/${encodeURIComponent(face.id)}/face.svg`);
    check(resp.status() === 200, `${name}: status ${resp.status()}`);
    check(requests.every((u) => new URL(u).origin === ORIGIN), `${name}: requests ${requests}`);
    t = lap(name, 'load', t);
    const f = await page.evaluate(faceFacts);
    t = lap(name, 'facts', t);
    const squash = (s) => s.replace(/\s+/g, '');
    for (const v of face.shown)
      check(f.texts.some((t) => squash(t.content).includes(squash(v))), `${name}: "${v}" is not in the face's text`);
    check(f.qr !== null, `${name}: no QR code`);
    /* Text that does not fit is wrapped or shrunk, never cut off or
     * drawn over its neighbours.  face.known_overflow: a layout problem
     * already reported (see browser_test.py), shown but not failed. */
    const fits = face.known_overflow ? known : check;
    for (const t of f.texts) {
      const what = `${name}: "${t.content.slice(0, 24)}"`;
      fits(t.x >= 0 && t.y >= 0 && t.r <= f.w && t.b <= f.h,
        `${what} leaves the face: [${t.x.toFixed(0)},${t.y.toFixed(0)} - ${t.r.toFixed(0)},${t.b.toFixed(0)}]`);
      fits(t.size >= LEGIBLE_MIN, `${what} shrunk to ${t.size} px`);
      if (f.qr)
        fits(!overlap(t, f.qr), `${what} runs into the QR code`);
      /* Its own box, not just the face: a value that fits only by
       * running into the rows below has not fitted. */
      const box = layoutBox(t);
      if (box)
        fits(t.x >= box.x - BOX_SLACK && t.r <= box.r + BOX_SLACK &&
          t.y >= box.y - BOX_SLACK && t.b <= box.b + BOX_SLACK,
        `${what} leaves its box [${box.x.toFixed(0)},${box.y.toFixed(0)} - ${box.r.toFixed(0)},${box.b.toFixed(0)}]: ` +
          `[${t.x.toFixed(0)},${t.y.toFixed(0)} - ${t.r.toFixed(0)},${t.b.toFixed(0)}] at ${t.size} px`);
      fits(t.overflow === null, `${what} is marked data-overflow: face.c could not fit it legibly`);
    }
    for (let i = 0; i < f.texts.length; i++)
      for (let j = i + 1; j < f.texts.length; j++)
        fits(!overlap(f.texts[i], f.texts[j]),
          `${name}: "${f.texts[i].content.slice(0, 16)}" and "${f.texts[j].content.slice(0, 16)}" overlap`);
    /* The layouts ask for Noto CJK; every glyph must come from it. */
    t = lap(name, 'checks', t);
    const fonts = await checkCjkGlyphs(page, 'text', name);
    t = lap(name, 'fonts', t);
    const used = Object.keys(fonts).filter((x) => fonts[x] > 0);
    check(used.length > 0 && used.every((x) => /^Noto (Sans|Serif) CJK/.test(x)),
      `${name}: drawn with ${used.join(', ')}, not only Noto CJK`);
    /* At the layout's own size: the round trip decodes a face's QR code
     * from a screenshot at twice the pixels. */
    const shot = readPng(await page.screenshot({ path: path.join(ART, `${name}.png`) }));
    t = lap(name, 'screenshot', t);
    /* Text in the DOM is not text on the screen: every text holding a
     * required value must have painted its glyphs, dark on the light
     * ground, inside its box. */
    const painted = f.texts.filter((x) => face.shown.some((v) => squash(x.content).includes(squash(v))));
    check(painted.length > 0, `${name}: no text holds a required value`);
    const need = (x) => DARK_PER_GLYPH * glyphCount(x.content);
    for (const x of painted) {
      const n = darkPixels(shot, x, 1);
      inkPerGlyph.shot = Math.min(inkPerGlyph.shot, n / glyphCount(x.content));
      check(n >= need(x), `${name}: "${x.content.slice(0, 24)}" painted ${n} dark pixels in the screenshot, want ${need(x)}`);
    }
    if (!blankControlled) {
      /* The control: the same face with its text unpainted must fail the
       * check above, or the check proves nothing. */
      blankControlled = true;
      await page.evaluate(() => document.querySelectorAll('text').forEach((e) => e.setAttribute('visibility', 'hidden')));
      const blank = readPng(await page.screenshot());
      const seen = painted.filter((x) => darkPixels(blank, x, 1) >= need(x));
      check(seen.length === 0, `${name}: with its text hidden, the pixel check still passes ${seen.map((x) => x.content.slice(0, 12))}`);
    }
    /* face.png: the same face drawn by librsvg on the server. */
    const r = await fetch(`${BASE}/api/v1/certificates/${encodeURIComponent(face.id)}/face.png`,
      { headers: { Authorization: 'Bearer ' + fx.reader_token } });
    const png = Buffer.from(await r.arrayBuffer());
    check(r.status === 200 && r.headers.get('content-type') === 'image/png', `${name}: face.png ${r.status}`);
    check(png.length > 24 && png.toString('latin1', 1, 4) === 'PNG' &&
      png.readUInt32BE(16) === f.w * 2 && png.readUInt32BE(20) === f.h * 2,
      `${name}: face.png is not a ${f.w * 2}x${f.h * 2} PNG`);
    const pfile = path.join(ART, `${name}-rsvg.png`);
    fs.writeFileSync(pfile, png);
    /* librsvg lays text out with pango, not chromium's engine, but in the
     * same fonts and boxes: the same painted-text check, at scale 2. */
    if (r.status === 200) {
      const rimg = readPng(png);
      for (const x of painted) {
        const n = darkPixels(rimg, x, 2);
        inkPerGlyph.png = Math.min(inkPerGlyph.png, n / glyphCount(x.content));
        check(n >= need(x), `${name}: "${x.content.slice(0, 24)}" painted ${n} dark pixels in face.png, want ${need(x)}`);
      }
    }
    t = lap(name, 'face.png', t);
    /* The QR code does not change with the text around it: decoding the
     * samples' is enough (zbarimg takes half a second on a face). */
    if (!face.name.endsWith('-longest'))
      check(zbar(pfile) === face.qr_text, `${name}: face.png's QR code does not decode`);
  }
  await page.close();
}

(async () => {
  const t0 = Date.now();
  fs.mkdirSync(ART, { recursive: true });
  const browser = await chromium.launch({ executablePath: fx.chromium, args: CHROMIUM_ARGS });
  try {
    /* A phone with JavaScript off: the page must not need it. */
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 },
      javaScriptEnabled: false, locale: 'zh-CN', isMobile: true, hasTouch: true,
      deviceScaleFactor: 1 });
    /* A reader's screen for the faces (face.svg needs a bearer token);
     * for the QR codes read from pixels, twice the pixels so that every
     * module is sharp. */
    const faceCtx = await browser.newContext({ viewport: { width: 1123, height: 794 },
      deviceScaleFactor: 2, javaScriptEnabled: false,
      extraHTTPHeaders: { Authorization: 'Bearer ' + fx.reader_token } });
    const faceCtx1 = await browser.newContext({ viewport: { width: 1123, height: 794 },
      deviceScaleFactor: 1, javaScriptEnabled: false,
      extraHTTPHeaders: { Authorization: 'Bearer ' + fx.reader_token } });
    for (const [what, run] of [['states', () => states(ctx)],
      ['round trip', () => roundTrip(ctx, faceCtx)],
      ['compact form', () => pasteCompact(ctx, faceCtx)],
      ['paper copy', () => paperCopy(ctx)], ['presentation', () => presentation(ctx)],
      ['faces', () => faces(faceCtx1)],
      ['copy pdf', () => copyPdf(browser)]]) {
      const t = Date.now();
      await run();
      console.log(`${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    await browser.close();
  }
  console.log(`browser: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`faces: at least ${inkPerGlyph.shot.toFixed(1)} dark pixels per character on screen, ` +
    `${inkPerGlyph.png.toFixed(1)} in face.png (want ${DARK_PER_GLYPH})`);
  if (knownFailures)
    console.log(`${knownFailures} known layout problems (KNOWN above), not counted`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(2);
});
