// Hostile names, short names, texts and channel names from the mesh: nothing executes in the
// browser, nothing is injected, and the text is shown intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, startSim, launch, shots } from './harness.mjs';

let server, sim, browser;
before(async () => {
  server = await startServer();
  sim = await startSim(['--nodes', '30', '--rate', '8', '--hostile-names', '--seed', '3']);
  browser = await launch();
});
after(async () => { await browser?.close(); sim?.stop(); server?.stop(); });

test('an XSS corpus from the radio executes nothing and shows intact', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(server.url + '/connect');
  await page.fill('input[name=host]', '127.0.0.1');
  await page.fill('input[name=port]', String(sim.port));
  await page.click('#connect-form button[type=submit]');
  await page.waitForURL('**/nodes');
  // Let hostile texts arrive live over the stream.
  await page.goto(server.url + '/packets');
  await page.waitForFunction(() => document.querySelectorAll('#packet-rows tr').length > 20, null, { timeout: 20000 });
  const pages = ['/nodes', '/packets', '/messages?c=ch:0', '/messages?c=ch:1', '/settings', '/traceroute'];
  for (const p of pages) {
    if (p !== '/packets') await page.goto(server.url + p);
    await page.waitForTimeout(300);
    const injected = await page.evaluate(() => ({
      flag: window.__xss,
      img: document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]').length,
      scripts: [...document.scripts].filter((s) => !s.src).length,
    }));
    assert.deepEqual(injected, { flag: undefined, img: 0, scripts: 0 }, `on ${p}`);
  }
  await page.goto(server.url + '/nodes');
  const names = await page.locator('table.nodes tbody td a').allTextContents();
  for (const want of ['<script>window.__xss=1</script>', '<img src=x onerror=window.__xss=1>', '"><svg onload=window.__xss=1>']) {
    assert.ok(names.includes(want), `shown intact: ${want}`);
  }
  await page.goto(server.url + '/settings');
  assert.ok((await page.locator('table.channels').textContent()).includes('<i>x</i>'), 'channel name shown as text');
  await page.goto(server.url + '/packets');
  await page.screenshot({ path: join(shots, 'hostile.png') });
  assert.deepEqual(dialogs, []);
  await context.close();
});
