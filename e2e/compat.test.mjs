// The original dashboard's client side against meshdeck's JSON API, in Chromium.
//
// 1. A small page of our own that polls the way the original's newer page does
//    (shared/API.md §9: its timers, cursors and the fields it reads), timers shortened.
// 2. When ORIGINAL_INDEX_HTML names a copy of the original's own `templates/index.html`
//    (either revision; fetch it yourself, it is not part of this repository), that page,
//    served unchanged in front of the API, feature by feature.
//
// The page is served by intercepting the browser's request for it on meshdeck's own origin,
// so its calls are same-origin as they would be behind the original's server. Nothing leaves
// loopback: every other host is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, startSim, launch, watchErrors } from './harness.mjs';

let server, sim, browser;
before(async () => {
  sim = await startSim(['--nodes', '25', '--rate', '4', '--seed', '5']);
  server = await startServer();
  browser = await launch();
});
after(async () => { await browser?.close(); server?.stop(); sim?.stop(); });

/// A page that polls like the original's: sessions, then with `session_name` status, nodes,
/// traceroute results and MQTT health, packets and messages with `since` cursors (the time of
/// the last element of the previous non-empty reply, URL-encoded), messages deduplicated by
/// from, time and text. It records what it read in `window.report`.
const POLLING_PAGE = `<!doctype html><html><body><p id="state">starting</p><script>
const report = window.report = { missing: [], dupPackets: 0, packets: 0, messages: [], status: null,
  nodes: [], traces: {}, health: null, errors: [], sessions: null };
const need = (where, obj, keys) => { for (const k of keys) if (!(k in obj)) report.missing.push(where + '.' + k); };
const S = 'Compat';
const q = (extra) => '?session_name=' + encodeURIComponent(S) + (extra || '');
async function json(url, init) {
  const r = await fetch(url, init);
  const body = await r.json();
  if (!r.ok && !body.error) report.errors.push(url + ' ' + r.status + ' without error');
  return body;
}
const post = (url, body) => json(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
let packetSince = null, messageSince = null;
const seenPackets = new Set(), seenMessages = new Map();
async function slow() {
  const st = await json('/api/status' + q());
  need('status', st, ['connected', 'nodeCount', 'last_packet_ago', 'myNode']);
  if (st.myNode) need('myNode', st.myNode, ['longName', 'shortName', 'id', 'batteryLevel', 'voltage', 'channelUtil', 'airUtilTx']);
  report.status = st;
  const nodes = await json('/api/nodes' + q('&filter=all'));
  for (const n of nodes) need('node', n, ['viaMqtt', 'hopsAway', 'isFavorite', 'longName', 'shortName', 'id', 'hwModel', 'snr', 'distance_km', 'batteryLevel', 'lastHeard']);
  report.nodes = nodes;
  report.traces = await json('/api/traceroute/results' + q());
  const h = await json('/api/mqtt/health' + q());
  need('health', h, ['health_status', 'last_mqtt_ago', 'mqtt_count', 'health_message']);
  report.health = h;
}
async function fast() {
  const p = await json('/api/packets' + q(packetSince ? '&since=' + encodeURIComponent(packetSince) : ''));
  for (const e of p) {
    need('packet', e, ['time', 'portnum', 'from', 'to', 'snr']);
    const key = [e.time, e.from, e.to, e.portnum, e.text].join('|');
    if (seenPackets.has(key)) report.dupPackets++;
    seenPackets.add(key);
    report.packets++;
  }
  if (p.length) packetSince = p[p.length - 1].time;
  const m = await json('/api/messages' + q(messageSince ? '&since=' + encodeURIComponent(messageSince) : ''));
  for (const e of m) {
    need('message', e, ['time', 'from', 'to', 'text', 'outgoing', 'snr', 'rssi', 'hopStart', 'hopLimit']);
    seenMessages.set([e.from, e.time, e.text].join('|'), e);
  }
  if (m.length) messageSince = m[m.length - 1].time;
  report.messages = [...seenMessages.values()];
}
(async () => {
  const port = Number(new URLSearchParams(location.search).get('port'));
  const created = await post('/api/sessions/create', { name: S, host: '127.0.0.1', port, auto_connect: false });
  if (created.error) report.errors.push('create: ' + created.error);
  const c = await fetch('/api/sessions/' + encodeURIComponent(S) + '/connect', { method: 'POST' }).then((r) => r.json());
  if (c.status !== 'connected') report.errors.push('connect: ' + JSON.stringify(c));
  const list = await json('/api/sessions');
  for (const s of list.sessions) need('session', s, ['name', 'host', 'port', 'connected', 'last_connected', 'beacon_enabled', 'autoresponder_enabled', 'auto_connect']);
  report.sessions = list.sessions;
  setInterval(() => slow().catch((e) => report.errors.push('slow ' + e)), 1000);
  setInterval(() => fast().catch((e) => report.errors.push('fast ' + e)), 300);
  await slow();
  const target = report.nodes.find((n) => !n.viaMqtt && n.id !== c.myNode?.id);
  const sent = await post('/api/send', { text: 'from a polling page', dest: null, session_name: S });
  if (sent.error) report.errors.push('send: ' + sent.error);
  const tr = await post('/api/traceroute', { dest: target.id, hopLimit: 6, session_name: S });
  if (tr.error) report.errors.push('traceroute: ' + tr.error);
  document.getElementById('state').textContent = 'polling';
})().catch((e) => report.errors.push('start ' + e));
</script></body></html>`;

async function pageAt(path, html) {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  const failed = [];
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname !== '127.0.0.1') return route.abort();
    if (u.pathname === path) return route.fulfill({ status: 200, contentType: 'text/html', body: html });
    return route.continue();
  });
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/') && r.status() >= 400) failed.push(`${r.request().method()} ${u.pathname} ${r.status()} ${await r.text().catch(() => '')}`);
  });
  return { page, errors, failed };
}

test('a page that polls the way the original does reads every field it needs, and no packet twice', async () => {
  const { page, errors, failed } = await pageAt('/compat-poller', POLLING_PAGE);
  await page.goto(`${server.url}/compat-poller?port=${sim.port}`);
  await page.waitForFunction(() => document.getElementById('state').textContent === 'polling', null, { timeout: 20000 });
  await page.waitForTimeout(6000);
  const r = await page.evaluate(() => window.report);
  assert.deepEqual(r.errors, []);
  assert.deepEqual([...new Set(r.missing)], [], 'fields the original page reads');
  assert.equal(r.dupPackets, 0, 'a packet came twice through since');
  assert.ok(r.packets > 10, `packets polled: ${r.packets}`);
  assert.equal(r.status.connected, true);
  assert.equal(r.status.nodeCount, r.nodes.length, 'nodeCount counts the listed nodes, mine included');
  assert.ok(r.nodes.some((n) => n.id === r.status.myNode.id), 'my node is listed');
  assert.ok(Number.isInteger(r.status.last_packet_ago));
  assert.ok(['healthy', 'slow', 'stalled', 'unknown'].includes(r.health.health_status));
  const mine = r.messages.find((m) => m.text === 'from a polling page');
  assert.ok(mine && mine.outgoing === true, 'the sent text is in the messages');
  const heard = r.messages.filter((m) => !m.outgoing);
  assert.ok(heard.some((m) => typeof m.snr === 'number' && m.source === 'RF'), 'RF messages carry their SNR');
  const statuses = Object.values(r.traces).map((t) => t.status);
  assert.ok(statuses.length > 0 && statuses.every((s) => ['pending', 'complete', 'timeout', 'error', 'cancelled'].includes(s)), statuses.join());
  for (const t of Object.values(r.traces).filter((t) => t.status === 'complete')) {
    assert.ok(t.route.every(Number.isInteger) && t.snrTowards.every(Number.isInteger), JSON.stringify(t));
  }
  assert.deepEqual(r.sessions.map((s) => [s.name, s.connected]), [['Compat', true]]);
  assert.deepEqual(failed, []);
  assert.deepEqual(errors, []);
  await page.close();
});

const original = process.env.ORIGINAL_INDEX_HTML;

test('the original\'s own page works unchanged in front of the API', { skip: !original && 'set ORIGINAL_INDEX_HTML to its templates/index.html' }, async () => {
  const html = readFileSync(original, 'utf8');
  const newer = html.includes('/api/sessions');
  const { page, errors, failed } = await pageAt('/', html);
  page.on('dialog', (d) => d.accept());
  await page.goto(server.url + '/');
  if (newer) {
    // The newer page's own way: create a session, connect it, open /?session=NAME.
    await page.evaluate(() => switchTab('sessions'));
    await page.fill('#new-session-name', 'Original');
    await page.fill('#new-session-host', '127.0.0.1');
    await page.fill('#new-session-port', String(sim.port));
    await page.evaluate(() => createSession());
    await page.waitForTimeout(800);
    await page.evaluate(() => connectSession('Original'));
    await page.locator('#tab-sessions', { hasText: 'Connected' }).waitFor({ timeout: 15000 });
    await page.goto(server.url + '/?session=Original');
  } else {
    await page.fill('#host-input', '127.0.0.1');
    await page.fill('#port-input', String(sim.port));
    await page.evaluate(() => toggleConnect());
  }
  const text = async (sel) => (await page.locator(sel).first().innerText()).replace(/\s+/g, ' ');
  await page.waitForFunction(() => document.body.innerText.includes('Showing'), null, { timeout: 20000 });
  await page.waitForTimeout(4000);
  assert.match(await text('#tab-nodes'), /Showing \d+ nodes/);
  const toast = async (name, fn) => {
    await page.evaluate(fn);
    await page.waitForTimeout(1200);
    return (await page.locator('.toast').allInnerTexts()).join(' | ');
  };
  await page.evaluate(() => switchTab('messages'));
  await page.waitForTimeout(3000);
  const messages = await text('#tab-messages');
  assert.match(messages, /RF/, 'RF messages are labelled RF');
  assert.match(messages, /SNR: -?[\d.]+dB/);
  assert.match(await toast('send', () => { document.getElementById('msg-text').value = 'hi from the original'; return sendMessageFromTab(); }), /Message sent/);
  assert.match(await toast('dm', () => { document.getElementById('msg-dest').value = '!00abcdef'; document.getElementById('msg-text').value = 'hi stranger'; return sendMessageFromTab(); }), /Message sent to !00abcdef/);
  await page.evaluate(() => switchTab('traceroute'));
  assert.match(await toast('trace', () => { document.getElementById('tr-dest').value = allNodes.filter((n) => !n.viaMqtt && n.hopsAway === 0).pop().id; return sendTraceroute(); }), /Traceroute sent/);
  await page.waitForTimeout(2500);
  assert.match(await text('#tr-results-list'), /Waiting for response|→/, 'the probe shows, queued or not');
  // A node outside the node DB: queued behind the first (the firmware's interval), cancelled.
  assert.match(await toast('trace stranger', () => { document.getElementById('tr-dest').value = '!00abcdef'; return sendTraceroute(); }), /Traceroute sent to !00abcdef/);
  await page.waitForTimeout(1500);
  assert.match(await text('#tr-results-list'), /!00abcdef Waiting for response/, 'a queued probe shows as waiting');
  assert.match(await toast('cancel', () => cancelTraceroute('!00abcdef')), /Traceroute to !00abcdef cancelled/);
  assert.match(await toast('sweep', () => startSweep()), /Sweep started — \d+ nodes to test/);
  assert.match(await toast('sweep stop', () => stopSweep()), /Sweep stopped/);
  // The node filters.
  const shown = async (f) => {
    await page.evaluate((x) => setFilter(x), f);
    await page.waitForTimeout(1200);
    return Number((await text('#tab-nodes')).match(/Showing (\d+) nodes/)[1]);
  };
  const [all, rf, mqtt, local] = [await shown('all'), await shown('rf'), await shown('mqtt'), await shown('local')];
  assert.equal(rf + mqtt, all, `all ${all} = rf ${rf} + mqtt ${mqtt}`);
  assert.ok(local > 0 && local <= rf, `nearby ${local} of rf ${rf}`);
  await shown('all');
  await page.evaluate(() => switchTab('device'));
  await page.waitForTimeout(3000);
  const device = await text('#tab-device');
  assert.match(device, /Role PRIMARY Security Encrypted/, 'channel cards read the nested settings');
  assert.match(device, /MQTT active|MQTT quiet|No data yet|No MQTT/);
  assert.match(device, /Not Running/, 'the bridge panel');
  assert.match(await toast('beacon', () => { document.getElementById('beacon-template').value = 'B {my_name}'; return saveBeaconConfig(); }), /saved/);
  assert.match(await toast('beacon test', () => testBeacon()), /Test beacon sent: B /);
  assert.match(await toast('filter', () => { document.getElementById('filter-enabled').checked = true; return toggleMessageFilter(); }), /Message filter enabled/);
  await page.evaluate(() => { document.getElementById('autoresponder-enabled').checked = false; return toggleAutoresponder(); });
  await page.waitForTimeout(800);
  const rules = await page.evaluate(async (n) => (await (await fetch('/api/autoresponder' + (n ? '?session_name=Original' : ''))).json()), newer);
  assert.equal(rules.enabled, false);
  assert.ok(rules.rules.length > 0, 'the toggle kept the rules');
  await page.evaluate(() => openMqttConfigModal());
  await page.waitForTimeout(800);
  assert.equal(await page.inputValue('#mqtt-password'), '', 'no password reaches the page');
  assert.match(await toast('mqtt', () => { document.getElementById('mqtt-tls').checked = true; return saveMqttConfig(); }), /MQTT configuration updated/);
  assert.deepEqual(failed, []);
  const real = () => errors.filter((e) => !e.includes('ERR_FAILED') && !e.includes('status of 404'));
  assert.deepEqual(real(), [], 'fonts from the Internet are refused; nothing else fails');
  if (newer) {
    await page.evaluate(() => switchTab('storeforward'));
    await page.waitForTimeout(1500);
    assert.match(await text('#tab-storeforward'), /Max Records \d+/);
    await page.evaluate(() => switchTab('sessions'));
    await page.evaluate(() => disconnectSession('Original'));
    await page.waitForTimeout(1200);
    assert.doesNotMatch(await text('#tab-sessions'), /Original .*● Connected/);
    await page.evaluate(() => deleteSession('Original'));
    await page.waitForTimeout(1200);
    assert.doesNotMatch(await text('#tab-sessions'), /Original/);
    // Its loops go on naming the deleted session: a JSON 404 (the original: a 500 page).
    assert.ok(failed.every((f) => f.includes('404 {"error":"Session not found"}')), failed.join('\n'));
    assert.deepEqual(real(), []);
  }
  await page.close();
});
