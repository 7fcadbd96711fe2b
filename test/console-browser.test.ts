/**
 * The web console (docs/console.md) in a real browser: Debian's chromium driven by
 * playwright-core, against two Trellis processes (`bin/trellis start`) that federate on loopback
 * by a route of s2s.peering. An admin logs in with the XMPP password, watches the other server
 * appear on the live federation map with its level and authentication method once a message
 * crosses, sees a policy refusal on it, disconnects a session, adds a user (who then logs in
 * over XMPP) and deletes it (which ends its session). Requests without a login, or with a
 * missing or wrong CSRF token, are refused. Screenshots of the map go to test-output/console/.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { loadConfig } from '../src/config/load.ts';
import { openStorage } from '../src/storage/open.ts';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import type { RawClient } from './support/raw-client.ts';
import { freePort, sleep } from './support/server-process.ts';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', 'test-output', 'console');
const A = { address: '127.0.150.1', domain: 'alpha.example' };
const B = { address: '127.0.150.2', domain: 'beta.example' };
const ADMIN_PASSWORD = 'console admin password';

interface Running {
  child: ChildProcess;
  output: () => string;
  c2sPort: number;
  httpPort: number;
}

/** every process started, for after() to end even when a start failed half way */
const processes: Running[] = [];

/** Writes a config, creates the accounts and starts `trellis start`; resolves once its console answers. */
async function startTrellis(dir: string, self: typeof A, peer: typeof B, users: string[], extra: string): Promise<Running> {
  const c2sPort = await freePort();
  const httpPort = await freePort();
  const configFile = join(dir, `${self.domain}.yaml`);
  await writeFile(
    configFile,
    `data_dir: ${join(dir, self.domain)}
log: { level: info }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: ${c2sPort} }
  s2s: { addresses: ["${self.address}"], port: 5269 }
c2s: { scram_iterations: 4096, auth_failure_delay: 10 }
s2s:
  min_level: encrypted
  retry_initial_delay: 1
  peering:
    ${peer.domain}: { via: "${peer.address}:5269"${extra} }
http:
  enabled: true
  addresses: ["${self.address}"]
  port: ${httpPort}
  console: { enabled: true, admins: ["admin@${self.domain}"] }
hosts:
  ${self.domain}: {}
`,
  );
  const config = await loadConfig(configFile);
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    for (const user of users) await storage.accounts.create(self.domain, user, makeStoredCredentials(user === 'admin' ? ADMIN_PASSWORD : 'secret', 4096));
  } finally {
    await storage.close();
  }
  const child = spawn(TRELLIS, ['start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const running = { child, output: () => output, c2sPort, httpPort };
  processes.push(running);
  const deadline = Date.now() + 15_000;
  while ((await fetchStatus(self.address, httpPort, '/admin/login').catch(() => 0)) !== 200) {
    if (child.exitCode !== null) throw new Error(`trellis start exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`the console did not answer within 15 s: ${output}`);
    await sleep(100);
  }
  return running;
}

/** A request with no cookies; the server's certificate is self-signed. */
function fetchStatus(host: string, port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host, port, path, method, headers, rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the web console in a browser', () => {
  let dir = '';
  let a: Running;
  let b: Running;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let base = '';
  const clients: RawClient[] = [];
  const federated = (running: Running, self: typeof A): FederatedServer => ({ port: running.c2sPort, domain: self.domain }) as FederatedServer;
  const xmppLogin = async (running: Running, self: typeof A, user: string): Promise<RawClient> => {
    const client = await loginFederated(federated(running, self), user);
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-console-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Messages to beta.example larger than 3000 bytes are refused by a peering check: an alert on the map.
    a = await startTrellis(dir, A, B, ['admin', 'alice'], ', max_message_bytes: 3000');
    b = await startTrellis(dir, B, A, ['admin', 'bob'], '');
    base = `https://${A.address}:${a.httpPort}/admin/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
  });

  after(async () => {
    for (const client of clients) client.close();
    await browser?.close();
    for (const running of processes) {
      running.child.kill('SIGTERM');
      const exited = await Promise.race([new Promise((resolve) => running.child.once('exit', () => resolve(true))), sleep(5000).then(() => running.child.exitCode !== null)]);
      if (!exited) running.child.kill('SIGKILL');
    }
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('nothing but the login page is served without a login', async () => {
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/api/status'), 401);
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/api/federation'), 401);
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/static/app.js'), 401);
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/api/events'), 401);
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/'), 303);
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/api/users/alice%40alpha.example', 'DELETE', { 'X-CSRF-Token': 'anything' }), 401);
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/static/login.js'), 200);
    // A login without the login page's token is refused before the password is looked at.
    assert.equal(await fetchStatus(A.address, a.httpPort, '/admin/login', 'POST', { 'Content-Type': 'application/json' }), 403);
  });

  test('an admin logs in with the XMPP password; a wrong one is refused', async () => {
    await page.goto(base);
    assert.match(page.url(), /\/admin\/login$/);
    await page.fill('input[name="account"]', `admin@${A.domain}`);
    await page.fill('input[name="password"]', 'not the password');
    await page.click('button[type="submit"]');
    await page.locator('#login-error').filter({ hasText: 'wrong address or password' }).waitFor();
    await page.fill('input[name="password"]', ADMIN_PASSWORD);
    await page.click('button[type="submit"]');
    await page.waitForURL(base);
    await page.locator('[data-testid="status"]').filter({ hasText: 'Server connections' }).waitFor();
    const session = (await context.cookies()).find((cookie) => cookie.name === '__Host-trellis-console');
    assert.ok(session, 'the session cookie is set');
    assert.deepEqual([session.httpOnly, session.secure, session.sameSite, session.path], [true, true, 'Strict', '/']);
  });

  test('the other server appears on the live map with its level and method once a message crosses', async () => {
    await page.goto(`${base}#federation`);
    await page.locator('[data-testid="map-state"]').filter({ hasText: 'live' }).waitFor();
    const alice = await xmppLogin(a, A, 'alice');
    const bob = await xmppLogin(b, B, 'bob');
    alice.send(`<message to='bob@${B.domain}/r' type='chat' id='hello'><body>hello over federation</body></message>`);
    await bob.waitFor('hello over federation', 15_000);
    await page.locator(`[data-node="domain:${B.domain}"]`).waitFor({ timeout: 10_000 });
    await page.locator('[data-node="server"]').filter({ hasText: A.domain }).waitFor();
    await page.locator('.edge.connection .edge-label').filter({ hasText: 'encrypted · dialback' }).first().waitFor({ timeout: 10_000 });
    const row = page.locator('[data-testid="connections"] tbody tr').filter({ hasText: B.domain }).first();
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.deepEqual(cells.slice(1, 4), [B.domain, 'encrypted', 'dialback']);
    assert.match(cells[5] ?? '', /^TLSv1\.[23]$/);
    await page.locator('.edge.connection').first().click();
    await page.locator('[data-testid="connection-details"]').filter({ hasText: 'Certificate' }).waitFor();
    await page.locator('[data-testid="routes"] tbody tr').filter({ hasText: `via ${B.address}:5269` }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'federation-map.png'), fullPage: true });

    // A message the peering rule refuses bounces, and the refusal shows on the map.
    alice.send(`<message to='bob@${B.domain}/r' type='chat' id='big'><body>${'x'.repeat(4000)}</body></message>`);
    await alice.waitFor(/id=["']big["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']big["']/, 10_000);
    await page.locator(`[data-node="domain:${B.domain}"]`).filter({ hasText: 'refused' }).waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="alerts"] tbody tr').filter({ hasText: 'max_message_bytes' }).first().waitFor();
    await page.locator('[data-testid="errors"] tbody tr').filter({ hasText: 'error reply' }).first().waitFor();

    // A request for an account the peer does not have comes back as an error stanza (RFC 6120
    // section 8.5.2), counted on the connection it came by.
    alice.send(`<iq to='nobody@${B.domain}' type='get' id='nobody'><query xmlns='jabber:iq:version'/></iq>`);
    await alice.waitFor(/id=["']nobody["']/, 10_000);
    await page.locator('[data-testid="connections"] tbody tr').filter({ hasText: B.domain }).locator('td:last-child').filter({ hasText: /^[1-9]\d* \/ \d+$/ }).first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'federation-map-refusal.png'), fullPage: true });
  });

  test('an admin disconnects a session', async () => {
    const alice = clients[0]!;
    await page.goto(`${base}#sessions`);
    const row = page.locator('[data-testid="sessions"] tbody tr').filter({ hasText: `alice@${A.domain}/r` });
    await row.locator('button[data-action="disconnect"]').click();
    await page.locator('#message').filter({ hasText: `disconnected alice@${A.domain}/r` }).waitFor();
    assert.match(await alice.waitFor('policy-violation', 5000), /disconnected by the server administrator/);
    await alice.waitClosed();
    await row.waitFor({ state: 'detached' });
  });

  test('an admin adds a user, who logs in, and deletes it, which ends its session', async () => {
    await page.goto(`${base}#users`);
    const form = page.locator('[data-testid="add-user"]');
    await form.locator('input[name="account"]').fill(`carol@${A.domain}`);
    await form.locator('input[name="password"]').fill('secret');
    await form.locator('button[type="submit"]').click();
    const row = page.locator('[data-testid="users"] tbody tr').filter({ hasText: `carol@${A.domain}` });
    await row.waitFor();
    const carol = await xmppLogin(a, A, 'carol');
    await row.locator('button[data-action="delete"]').click();
    await page.locator('#message').filter({ hasText: `deleted carol@${A.domain}` }).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.match(await carol.waitFor('not-authorized', 5000), /this account has been deleted/);
    await assert.rejects(loginFederated(federated(a, A), 'carol'), 'the deleted account no longer logs in');
  });

  test('a change with a missing or wrong CSRF token, or from another origin, is refused, and logging out ends the login', async () => {
    await page.goto(`${base}#status`);
    const add = (headers: Record<string, string>) => page.request.post(`${base}api/users`, { headers: { 'Content-Type': 'application/json', ...headers }, data: { account: `mallory@${A.domain}`, password: 'secret' } });
    assert.equal((await add({})).status(), 403);
    assert.equal((await add({ 'X-CSRF-Token': 'forged' })).status(), 403);
    const remove = await page.request.delete(`${base}api/users/${encodeURIComponent(`alice@${A.domain}`)}`, { headers: { 'X-CSRF-Token': 'forged' } });
    assert.equal(remove.status(), 403);
    const users = await (await page.request.get(`${base}api/users?q=mallory`)).json();
    assert.equal(users.total, 0, 'nothing was created');
    assert.equal((await (await page.request.get(`${base}api/users?q=alice`)).json()).total, 1, 'nothing was deleted');
    // The page's own token from another origin is refused too; from this one it works.
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content')) ?? '';
    assert.equal((await add({ 'X-CSRF-Token': csrf, Origin: 'https://evil.example' })).status(), 403);
    assert.equal((await add({ 'X-CSRF-Token': csrf })).status(), 201);
    const deleted = await page.request.delete(`${base}api/users/${encodeURIComponent(`mallory@${A.domain}`)}`, { headers: { 'X-CSRF-Token': csrf } });
    assert.equal(deleted.status(), 200);
    await page.goto(`${base}#status`);
    await page.click('#logout');
    await page.waitForURL(/\/admin\/login$/);
    assert.equal((await page.request.get(`${base}api/status`)).status(), 401);
  });
});
