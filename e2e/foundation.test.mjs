// Connect from the demo page, see the node table, and two browser contexts see two meshes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, shots } from './harness.mjs';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); server?.stop(); });

async function connectDemo(context, n) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: `Connect to Demo radio ${n}` }).click();
  await page.waitForURL('**/nodes');
  await page.locator('table.nodes tbody tr').first().waitFor();
  return { page, errors };
}

test('a browser connects to a demo radio and sees its node table', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, errors } = await connectDemo(context, 1);
  const rows = await page.locator('table.nodes tbody tr').count();
  assert.equal(rows, 119);
  await page.getByText('MQTT', { exact: true }).first().click();
  await page.waitForFunction(() => document.querySelector('.count')?.textContent !== '119 nodes');
  const mqttRows = await page.locator('table.nodes tbody tr').count();
  assert.ok(mqttRows > 0 && mqttRows < 119, `MQTT filter shows ${mqttRows}`);
  assert.ok(page.url().includes('filter=mqtt'));
  // The status bar is live: the server pushes it over SSE.
  await page.locator('#status .statusbar').waitFor();
  const before = await page.locator('#last-packet').textContent();
  await page.waitForFunction((b) => document.querySelector('#last-packet')?.textContent !== b, before, { timeout: 10000 });
  await page.screenshot({ path: join(shots, 'nodes-desktop.png'), fullPage: false });
  assert.deepEqual(errors, []);
  // Disconnect frees the radio for the next test.
  await page.getByRole('button', { name: 'Disconnect' }).click();
  await page.locator('#connect-form').waitFor();
  await context.close();
});

test('two browser contexts show two different meshes', async () => {
  const c1 = await browser.newContext();
  const c2 = await browser.newContext({ viewport: { width: 800, height: 1280 }, isMobile: true, hasTouch: true });
  const { page: p1 } = await connectDemo(c1, 1);
  const { page: p2 } = await connectDemo(c2, 2);
  const ids1 = await p1.locator('table.nodes tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.node));
  const ids2 = await p2.locator('table.nodes tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.node));
  assert.ok(ids1.length > 0 && ids2.length > 0);
  assert.equal(ids1.filter((id) => ids2.includes(id)).length, 0, 'the meshes overlap');
  await p2.screenshot({ path: join(shots, 'nodes-tablet.png') });
  // The second context may join the first one's radio: radios are shared now (one link,
  // no "in use"), and it then sees the first one's mesh.
  const p3 = await c2.newPage();
  await p3.goto(server.url + '/connect');
  const port = new URL('http://' + (await p1.locator('header .radio').textContent())).port;
  await p3.fill('input[name=host]', '127.0.0.1');
  await p3.fill('input[name=port]', port);
  await p3.click('#connect-form button[type=submit]');
  await p3.waitForURL('**/nodes');
  await p3.locator('table.nodes tbody tr').first().waitFor();
  const ids3 = await p3.locator('table.nodes tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.node));
  assert.ok(ids3.filter((id) => ids1.includes(id)).length > ids1.length / 2, 'joined the first mesh');
  assert.equal(ids3.filter((id) => ids2.includes(id)).length, 0, 'still on the second mesh');
  await c1.close();
  await c2.close();
});
