// Live parts without reloading: the packet log fills from the radio, a DM is delivered, a
// traceroute goes queued → pending → complete; the coverage picture is saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, shots } from './harness.mjs';

let server, browser, context, page;
before(async () => {
  server = await startServer();
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Connect to Demo radio 2' }).click();
  await page.waitForURL('**/nodes');
});
after(async () => { await browser?.close(); server?.stop(); });

test('a packet from the radio appears in the open packet log without a reload', async () => {
  await page.getByRole('link', { name: 'Packet log' }).click();
  await page.waitForURL('**/packets');
  let navigations = 0;
  page.on('framenavigated', () => { navigations += 1; });
  const before = await page.locator('#packet-rows tr').count();
  await page.waitForFunction((n) => document.querySelectorAll('#packet-rows tr').length > n + 1, before, { timeout: 15000 });
  assert.equal(navigations, 0, 'the page reloaded');
  const first = await page.locator('#packet-rows tr').first().locator('td').nth(3).textContent();
  assert.match(first, /^[A-Z_]+$/);
  await page.screenshot({ path: join(shots, 'packets.png') });
});

test('filtering the packet log by port swaps the one live stream for that port', async () => {
  const port = await page.locator('#packet-rows tr').first().getAttribute('data-port');
  await page.selectOption('select[name=port]', port);
  await page.waitForURL('**/packets?port=' + port);
  const streams = () => page.locator('[sse-connect]').evaluateAll((els) => els.map((e) => e.getAttribute('sse-connect')));
  assert.deepEqual(await streams(), ['/events?port=' + port + '&bar=line']);
  const before = await page.locator('#packet-rows tr').count();
  await page.waitForFunction(([n, p]) => {
    const rows = [...document.querySelectorAll('#packet-rows tr')];
    return rows.length > n && rows.every((r) => r.dataset.port === p);
  }, [before, port], { timeout: 30000 });
  const ports = await page.locator('#packet-rows tr').evaluateAll((rows) => [...new Set(rows.map((r) => r.dataset.port))]);
  assert.deepEqual(ports, [port]);
  // The old stream is closed: this browser holds exactly one stream on the server.
  const open = async () => {
    const text = await (await fetch(server.url + '/metrics')).text();
    return Number(text.match(/^meshdeck_sse_clients (\d+)/m)[1]);
  };
  const deadline = Date.now() + 20000;
  while ((await open()) !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.equal(await open(), 1, 'streams open on the server');
  await page.locator('#status .statusbar').waitFor();
});

test('a direct message sent from the messages page shows delivered or heard by a relay', async () => {
  await page.goto(server.url + '/nodes');
  const id = await page.locator('table.nodes tbody tr').first().getAttribute('data-node');
  await page.goto(server.url + '/messages?c=' + encodeURIComponent(id));
  await page.fill('#send-form input[name=text]', 'hello from the browser ✓');
  await page.click('#send-form button[type=submit]');
  const mine = page.locator('li.msg.out', { hasText: 'hello from the browser ✓' });
  await mine.waitFor({ timeout: 10000 });
  await mine.locator('.dlv', { hasText: /delivered|heard by a relay/ }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: join(shots, 'messages.png') });
});

test('a traceroute goes queued → pending → complete without reloading', async () => {
  await page.getByRole('link', { name: 'Traceroute' }).click();
  await page.waitForURL('**/traceroute');
  // Nodes whose number is divisible by 5 never answer in the simulated mesh.
  const answering = await page.locator('#trace-form select[name=node] option').evaluateAll((os) =>
    os.map((o) => o.value).filter((v) => parseInt(v.slice(1), 16) % 5 !== 0));
  assert.ok(answering.length >= 2);
  const [a, b] = answering;
  await page.selectOption('#trace-form select[name=node]', a);
  await page.click('#trace-form button[type=submit]');
  await page.locator(`#traces tr[data-node="${a}"][data-status="complete"]`).waitFor({ timeout: 15000 });
  // The second waits for the firmware's interval: it shows as queued first.
  await page.selectOption('#trace-form select[name=node]', b);
  await page.click('#trace-form button[type=submit]');
  await page.locator(`#traces tr[data-node="${b}"][data-status="queued"]`).waitFor({ timeout: 5000 });
  await page.getByText(/queued, sends in \d+ s/).first().waitFor();
  await page.locator(`#traces tr[data-node="${b}"][data-status="pending"]`).waitFor({ timeout: 40000 });
  await page.locator(`#traces tr[data-node="${b}"][data-status="complete"]`).waitFor({ timeout: 15000 });
  const chain = await page.locator(`#traces tr[data-node="${b}"] .chain`).first().textContent();
  assert.match(chain, /dB/);
  await page.goto(server.url + '/traceroute');
  await page.locator('img.coverage').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelector('img.coverage')?.complete);
  await page.screenshot({ path: join(shots, 'traceroute.png'), fullPage: true });
  const svg = await page.request.get(server.url + '/traceroute/coverage.svg');
  assert.equal(svg.status(), 200);
  const body = await svg.text();
  assert.ok(body.includes('class="node ok'), 'answered nodes are coloured');
});
