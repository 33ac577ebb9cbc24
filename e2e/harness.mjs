// Starts a real meshdeck server (with in-process demo radios) on a free loopback port and
// launches Debian's Chromium through playwright-core. Never downloads a browser.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const shots = join(root, 'target', 'e2e');
mkdirSync(shots, { recursive: true });

export async function startServer(extraArgs = []) {
  const bin = process.env.MESHDECK_BIN || join(root, 'target', 'debug', 'meshdeck');
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdeck-e2e-'));
  const child = spawn(bin, ['--bind', '127.0.0.1:0', '--data-dir', dataDir, '--demo', '2', ...extraArgs], {
    env: { ...process.env, RUST_LOG: 'info', SECRET_KEY: 'cd'.repeat(64) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + log)), 20000);
    child.stdout.on('data', (d) => {
      const m = String(d).match(/meshdeck on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  });
  return { url, stop: () => child.kill('SIGINT'), log: () => log };
}

/// Runs `meshdeck sim` on a free loopback port; resolves once it listens.
export async function startSim(extraArgs = []) {
  const net = await import('node:net');
  const port = await new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
  });
  const bin = process.env.MESHDECK_BIN || join(root, 'target', 'debug', 'meshdeck');
  const child = spawn(bin, ['sim', '--listen', `127.0.0.1:${port}`, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sim did not start')), 15000);
    child.stdout.on('data', (d) => { if (String(d).includes('listening on')) { clearTimeout(timer); resolve(); } });
  });
  return { port, stop: () => child.kill('SIGINT') };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/// Collects uncaught page errors and console errors of a page.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return errors;
}

/// Connects the page's session to the radio at 127.0.0.1:`port` through the connect form and
/// waits for its node table.
export async function connectTo(page, url, port) {
  await page.goto(url + '/connect');
  await page.fill('#connect-form input[name=host]', '127.0.0.1');
  await page.fill('#connect-form input[name=port]', String(port));
  await page.click('#connect-form button[type=submit]');
  await page.waitForURL('**/nodes');
  await page.locator('table.nodes tbody tr').first().waitFor();
}

/// The Radios page's "Open now" entries for 127.0.0.1:`port` (opens /radios in `page`).
export async function openLinks(page, url, port) {
  await page.goto(url + '/radios');
  return page.locator(`ul.open-links li[data-address="127.0.0.1:${port}"]`).allTextContents();
}
