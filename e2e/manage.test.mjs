// Settings and automation in the browser: change the MQTT root and see the re-read value;
// add an auto-responder rule and see its reply appear live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, shots } from './harness.mjs';

let server, browser, page;
before(async () => {
  server = await startServer();
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
  page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Connect to Demo radio 1' }).click();
  await page.waitForURL('**/nodes');
});
after(async () => { await browser?.close(); server?.stop(); });

test('an auto-responder rule added in the page answers live', async () => {
  await page.goto(server.url + '/automation');
  const form = page.locator('#responder form.rule').last();
  await form.locator('select[name=trigger_type]').selectOption('contains');
  await form.locator('input[name=trigger]').fill('e');
  await form.locator('input[name=response]').fill('auto-reply to {sender_short}');
  await form.locator('select[name=message_type]').selectOption('broadcast');
  await form.locator('input[name=cooldown]').fill('0');
  await form.getByRole('button', { name: 'Add rule' }).click();
  await page.getByText('Rules saved.').waitFor();
  // The demo radio's strangers chat on channel 0; the reply shows up there, live.
  await page.goto(server.url + '/messages?c=ch:0');
  await page.locator('li.msg.out', { hasText: 'auto-reply to' }).first().waitFor({ timeout: 45000 });
  await page.screenshot({ path: join(shots, 'auto-reply.png') });
});

test('changing the MQTT root in settings is written and read back after the reboot', async () => {
  await page.goto(server.url + '/settings');
  await page.fill('#mqtt-form input[name=root]', 'msh/e2e');
  await page.click('#mqtt-form button[type=submit]');
  await page.getByText('Written to the radio').waitFor();
  // The radio reboots to apply it; the link comes back by itself and re-reads the settings.
  let root = '';
  for (let i = 0; i < 40 && root !== 'msh/e2e'; i++) {
    await page.waitForTimeout(500);
    await page.goto(server.url + '/settings');
    root = await page.locator('#mqtt-form input[name=root]').inputValue().catch(() => '');
  }
  assert.equal(root, 'msh/e2e');
  await page.screenshot({ path: join(shots, 'settings.png'), fullPage: false });
});
