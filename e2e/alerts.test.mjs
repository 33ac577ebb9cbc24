// Alerts in a browser: a rule added with the page's form fires on the demo radio's traffic,
// the status bar's pill counts it live on another page, notify.js (permission asked on a
// click) shows a notification for it, no script breaks the content security policy; the
// page at tablet width is saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, shots, watchErrors } from './harness.mjs';

let server, browser, context, page, errors;
before(async () => {
  server = await startServer();
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 800, height: 1280 }, colorScheme: 'dark' });
  // Headless Chromium has no notification service: a stand-in records what would be shown,
  // and keeps the permission given as a browser does.
  await context.addInitScript(() => {
    window.__notes = [];
    function Note(title, opts) { window.__notes.push({ title, body: opts && opts.body }); }
    Object.defineProperty(Note, 'permission', { get: () => localStorage.getItem('note-perm') || 'default' });
    Note.requestPermission = (cb) => {
      localStorage.setItem('note-perm', 'granted');
      if (cb) cb('granted');
      return Promise.resolve('granted');
    };
    window.Notification = Note;
  });
  page = await context.newPage();
  errors = watchErrors(page);
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Connect to Demo radio 2' }).click();
  await page.waitForURL('**/nodes');
});
after(async () => { await browser?.close(); server?.stop(); });

test('a rule from the form fires, the pill counts it live and the browser is notified', async () => {
  await page.getByRole('link', { name: 'Alerts' }).click();
  await page.waitForURL('**/alerts');
  await page.selectOption('#new-alert-rule select[name=kind]', 'dm');
  await page.click('#new-alert-rule button[type=submit]');
  await page.locator('.alert-rules li').first().waitFor();
  assert.match(await page.locator('.alert-rules li').first().textContent(), /direct message to my node/);
  await page.click('#notify-me');
  assert.equal(await page.locator('#notify-me').isVisible(), false, 'asked once, the button goes');
  await page.getByRole('link', { name: 'Messages' }).click();
  await page.waitForURL('**/messages');
  await page.waitForFunction(() => window.__notes.length > 0, null, { timeout: 90000 });
  const [note] = await page.evaluate(() => window.__notes);
  assert.equal(note.title, 'meshdeck: dm');
  assert.match(note.body, /^DM from /);
  assert.match(await page.locator('#alerts-pill').textContent(), /^\d+ alerts?$/);
  await page.getByRole('link', { name: 'Alerts' }).click();
  await page.locator('#fired .alert-item').first().waitFor();
  await page.screenshot({ path: join(shots, 'alerts-tablet.png'), fullPage: true });
  await page.getByRole('button', { name: 'Acknowledge all' }).click();
  await page.locator('#fired .pill', { hasText: '0 unacknowledged' }).waitFor();
  assert.deepEqual(errors, []);
});
