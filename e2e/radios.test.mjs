// Radios owned by the server: two sessions on one radio share its one link and see each other
// live; the Radios page keeps a radio connected with no browser open, opens it, and deletes it;
// a hostile kept-radio name is only text. The Radios page is pictured at tablet width, dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, startSim, launch, shots, connectTo, watchErrors, openLinks } from './harness.mjs';

let server, shared, kept, browser;
before(async () => {
  server = await startServer();
  // One sim for the two sharing sessions, another one the server keeps.
  [shared, kept] = await Promise.all([
    startSim(['--nodes', '25', '--rate', '4', '--seed', '11']),
    startSim(['--nodes', '20', '--rate', '4', '--seed', '12']),
  ]);
  browser = await launch();
});
after(async () => { await browser?.close(); shared?.stop(); kept?.stop(); server?.stop(); });

const company = (page) => page.locator('#status .company');
const radioRow = (page, name) => page.locator(`table.radios tr[data-name="${name.replace(/["\\]/g, '\\$&')}"]`);

/// Reloads /radios until the kept radio's state pill reads `state` (the page does not stream).
async function untilState(page, name, state, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let seen = '';
  for (;;) {
    await page.goto(server.url + '/radios');
    seen = (await radioRow(page, name).locator('td.state .pill').textContent({ timeout: 2000 }).catch(() => '')).trim();
    if (seen === state || Date.now() > deadline) break;
    await page.waitForTimeout(500);
  }
  assert.equal(seen, state, `state of kept radio ${name}`);
}

/// Keeps a radio through the create route directly (the form has its own test).


async function keepByRoute(page, name, port, autoConnect = true) {
  const form = { name, host: '127.0.0.1', port: String(port) };
  if (autoConnect) form.auto_connect = '1';
  const res = await page.request.post(server.url + '/radios/create', { form, headers: { Origin: server.url } });
  assert.equal(res.status(), 200, await res.text());
}

test('two sessions on one radio share its one link and see each other live', async () => {
  const c1 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const c2 = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const p1 = await c1.newPage();
  const p2 = await c2.newPage();
  const e1 = watchErrors(p1), e2 = watchErrors(p2);

  await connectTo(p1, server.url, shared.port);
  await company(p1).waitFor();
  assert.equal((await company(p1).textContent()).trim(), 'on this radio: only you');

  // The second session joins the same radio: no "in use", no take-over question.
  await connectTo(p2, server.url, shared.port);
  const ids = async (p) => p.locator('table.nodes tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.node));
  const [ids1, ids2] = [await ids(p1), await ids(p2)];
  assert.ok(ids1.length > 0 && ids2.length > 0);
  assert.ok(ids2.filter((id) => ids1.includes(id)).length >= Math.min(ids1.length, ids2.length) - 2, 'both see the same mesh');
  assert.equal(await p1.locator('header .radio').textContent(), await p2.locator('header .radio').textContent());

  // Both status bars say so; the first one's updates without a reload (within a full-bar period).
  let navigations = 0;
  p1.on('framenavigated', () => { navigations += 1; });
  const t0 = Date.now();
  for (const p of [p2, p1]) {
    await p.waitForFunction(() => document.querySelector('#status .company')?.textContent.trim() === 'on this radio: 1 other session', null, { timeout: 40000 });
  }
  assert.equal(navigations, 0, 'the first page reloaded');
  console.log(`# first session's status bar showed the second session after ${Date.now() - t0} ms`);

  // The radio sees one TCP client: the server lists one open link for it, with both sessions.
  const lis = await openLinks(p1, server.url, shared.port);
  assert.equal(lis.length, 1, `open links for the radio: ${JSON.stringify(lis)}`);
  assert.match(lis[0], /(^|\D)2 sessions/);
  const metrics = await (await fetch(server.url + '/metrics')).text();
  assert.equal(Number(metrics.match(/^meshdeck_links_open (\d+)/m)[1]), 1, 'links open on the server');

  // A text sent from one appears live in the other's open conversation.
  await p1.goto(server.url + '/messages?c=ch:0');
  await p2.goto(server.url + '/messages?c=ch:0');
  await p2.locator('#msgs').waitFor();
  navigations = 0;
  p2.on('framenavigated', () => { navigations += 1; });
  const text = `shared link ${Date.now()} ✓`;
  await p1.fill('#send-form input[name=text]', text);
  await p1.click('#send-form button[type=submit]');
  await p1.locator('#msgs li.msg.out', { hasText: text }).waitFor({ timeout: 10000 });
  await p2.locator('#msgs li.msg', { hasText: text }).waitFor({ timeout: 10000 });
  assert.equal(await p2.locator('#msgs li.msg', { hasText: text }).count(), 1, 'shown once in the other session');
  assert.equal(navigations, 0, 'the other page reloaded');
  await p2.screenshot({ path: join(shots, 'shared-messages.png') });

  // One leaves (a closed tab is no disconnect: its session stays on the radio until it expires).
  await p2.goto(server.url + '/nodes');
  await p2.getByRole('button', { name: 'Disconnect' }).click();
  await p2.locator('#connect-form').waitFor();
  await c2.close();
  await p1.goto(server.url + '/nodes');
  await p1.waitForFunction(() => document.querySelector('#status .company')?.textContent.trim() === 'on this radio: only you', null, { timeout: 40000 });
  const left = await openLinks(p1, server.url, shared.port);
  assert.equal(left.length, 1);
  assert.match(left[0], /(^|\D)1 session(\D|$)/);
  assert.deepEqual([...e1, ...e2], []);
  await p1.getByRole('button', { name: 'Disconnect' }).click();
  await p1.locator('#connect-form').waitFor();
  await c1.close();
});

test('the Keep a radio form keeps a radio', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(server.url + '/radios');
    const form = page.locator('form#radio-create');
    assert.equal(await form.locator('input[name=auto_connect]').isChecked(), true, 'at start-up by default');
    await form.locator('input[name=name]').fill('form-kept');
    await form.locator('input[name=host]').fill('127.0.0.1');
    await form.locator('input[name=port]').fill(String(kept.port));
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      form.getByRole('button', { name: 'Keep it' }).click(),
    ]);
    assert.equal(res.status(), 200, `POST ${new URL(res.url()).pathname}`);
    await page.locator('#radios').waitFor({ state: 'attached', timeout: 2000 });
    await radioRow(page, 'form-kept').waitFor({ timeout: 5000 });
  } finally {
    // Leave nothing behind for the next test, whether the form worked or not.
    await page.request.post(server.url + '/radios/form-kept/delete', { headers: { Origin: server.url } });
    await context.close();
  }
});

test('a kept radio connects by itself, opens into its nodes, and is deleted', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.accept(); });

  // Every page has the Radios link in its header.
  await page.goto(server.url + '/connect');
  await page.locator('header a.radios-link').click();
  await page.waitForURL('**/radios');
  await keepByRoute(page, 'hill', kept.port);
  await untilState(page, 'hill', 'connected');
  const row = radioRow(page, 'hill');
  assert.equal((await row.locator('td.sessions').textContent()).trim(), '0');
  assert.match(await row.textContent(), new RegExp(`127\\.0\\.0\\.1:${kept.port}`));
  let lis = await openLinks(page, server.url, kept.port);
  assert.equal(lis.length, 1);
  assert.match(lis[0], /0 sessions · kept as hill/);

  // Open attaches this session to the kept link and lands on its nodes.
  await row.getByRole('button', { name: 'Open' }).click();
  await page.waitForURL('**/nodes');
  await page.locator('table.nodes tbody tr').first().waitFor();
  assert.ok((await page.locator('table.nodes tbody tr').count()) > 5);
  assert.match(await page.locator('header .radio').textContent(), new RegExp(`:${kept.port}$`));
  assert.equal((await company(page).textContent()).trim(), 'on this radio: kept as hill');

  // Back on the Radios page: one session on it, still one link.
  await page.locator('header a.radios-link').click();
  await page.waitForURL('**/radios');
  assert.equal((await radioRow(page, 'hill').locator('td.sessions').textContent()).trim(), '1');
  lis = await openLinks(page, server.url, kept.port);
  assert.equal(lis.length, 1);
  assert.match(lis[0], /1 session · kept as hill/);

  // Disconnect and Connect swap in place (HTMX), no reload.
  await radioRow(page, 'hill').getByRole('button', { name: 'Disconnect' }).click();
  // exact: a role's name matches as a substring otherwise, and "Disconnect" holds "connect".
  await radioRow(page, 'hill').getByRole('button', { name: 'Connect', exact: true }).waitFor({ timeout: 10000 });
  assert.notEqual((await radioRow(page, 'hill').locator('td.state .pill').textContent()).trim(), 'connected');
  await radioRow(page, 'hill').getByRole('button', { name: 'Connect', exact: true }).click();
  await radioRow(page, 'hill').getByRole('button', { name: 'Open' }).waitFor({ timeout: 15000 });
  await untilState(page, 'hill', 'connected');

  // The edit form: "at start-up" off, saved, read back.
  const edit = radioRow(page, 'hill').locator('form', { hasText: 'at start-up' });
  assert.equal(await edit.locator('input[name=auto_connect]').isChecked(), true);
  await edit.locator('input[name=auto_connect]').uncheck();
  await edit.getByRole('button', { name: 'Save' }).click();
  await page.waitForTimeout(500);
  await page.goto(server.url + '/radios');
  assert.equal(await radioRow(page, 'hill').locator('input[name=auto_connect]').isChecked(), false, 'saved off');

  // Delete asks first; after yes the row is gone.
  await radioRow(page, 'hill').getByRole('button', { name: 'Delete' }).click();
  await radioRow(page, 'hill').waitFor({ state: 'detached', timeout: 10000 });
  assert.deepEqual(dialogs, ['Delete the kept radio hill? Its history stays.']);
  await page.goto(server.url + '/radios');
  assert.equal(await radioRow(page, 'hill').count(), 0, 'gone after a reload too');
  // Not kept any more; this session (attached by Open) may still hold the link, named by no kept radio.
  lis = await openLinks(page, server.url, kept.port);
  assert.equal(lis.length, 1, 'the session opened by Open still holds the link');
  assert.match(lis[0], /1 session$/);
  await page.goto(server.url + '/nodes');
  assert.equal((await company(page).textContent()).trim(), 'on this radio: only you');
  await page.getByRole('button', { name: 'Disconnect' }).click();
  await page.locator('#connect-form').waitFor();
  assert.deepEqual(await openLinks(page, server.url, kept.port), [], 'nobody holds it any more');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a hostile kept-radio name is shown as text and executes nothing', async () => {
  const name = '<img src=x onerror=alert(1)>';
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(server.url + '/radios');
  await keepByRoute(page, name, kept.port);
  await untilState(page, name, 'connected');
  const check = async (where) => {
    const injected = await page.evaluate(() => ({
      img: document.querySelectorAll('img[src="x"], [onerror], [onload]').length,
      scripts: [...document.scripts].filter((s) => !s.src).length,
    }));
    assert.deepEqual(injected, { img: 0, scripts: 0 }, `on ${where}`);
  };
  await check('/radios');
  assert.equal((await radioRow(page, name).locator('strong').textContent()), name, 'the name shown intact');
  assert.match(await page.locator('ul.open-links').textContent(), /kept as <img src=x onerror=alert\(1\)>/);
  // Its Open button carries the name percent-encoded and works.
  await radioRow(page, name).getByRole('button', { name: 'Open' }).click();
  await page.waitForURL('**/nodes');
  await company(page).waitFor();
  assert.equal((await company(page).textContent()).trim(), `on this radio: kept as ${name}`);
  await check('/nodes');
  await page.goto(server.url + '/radios');
  await page.waitForTimeout(300);
  assert.deepEqual(dialogs, [], 'nothing executed');

  // Pictured at tablet width in dark mode, with a kept radio and an open link.
  const tablet = await browser.newContext({ viewport: { width: 820, height: 1180 }, colorScheme: 'dark', hasTouch: true });
  const tp = await tablet.newPage();
  const terrs = watchErrors(tp);
  await tp.goto(server.url + '/radios');
  await radioRow(tp, name).waitFor();
  const overflow = await tp.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await tp.screenshot({ path: join(shots, 'radios-tablet-dark.png'), fullPage: true });
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 820px`);
  assert.deepEqual(terrs, []);
  await tablet.close();

  // Delete needs a yes: dismissed, it stays.
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await radioRow(page, name).getByRole('button', { name: 'Delete' }).click();
  await page.waitForTimeout(500);
  assert.equal(await radioRow(page, name).count(), 1, 'kept after No');
  assert.deepEqual(dialogs, [`Delete the kept radio ${name}? Its history stays.`]);
  // And with yes, the percent-encoded name finds it: gone.
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => d.accept());
  await radioRow(page, name).getByRole('button', { name: 'Delete' }).click();
  await radioRow(page, name).waitFor({ state: 'detached', timeout: 10000 });
  await page.goto(server.url + '/radios');
  assert.equal(await page.locator('table.radios tbody tr').count(), 0);
  await check('/radios after delete');
  await context.close();
});
