/**
 * The web console's HTTP side without a browser (docs/console.md): failed logins count in the
 * same throttle as client logins, so past limits.auth the right password is refused too, with
 * 429 and Retry-After; a non-admin's correct password does not log in; the answers carry the
 * security headers; a JSON body is required for changes.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { LOGIN_COOKIE, SESSION_COOKIE } from '../src/console/route.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ADDRESS = '127.0.150.3';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('the web console over HTTPS', () => {
  let server: TestServer;
  let port = 0;

  const call = (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const request = httpsRequest({ host: ADDRESS, port, path, method, headers, rejectUnauthorized: false }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      });
      request.on('error', reject);
      request.end(body);
    });

  /** The login page's token and cookie, then a login with them. */
  const login = async (account: string, password: string): Promise<Answer> => {
    const page = await call('GET', '/admin/login');
    const token = /name="csrf-token" content="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const cookie = (page.headers['set-cookie'] as string[]).find((line) => line.startsWith(`${LOGIN_COOKIE}=`))!.split(';')[0]!;
    return call('POST', '/admin/login', { 'Content-Type': 'application/json', 'X-CSRF-Token': token, Cookie: cookie }, JSON.stringify({ account, password }));
  };

  before(async () => {
    server = await startTestServer(`
http:
  enabled: true
  addresses: ["${ADDRESS}"]
  port: 0
  console: { enabled: true, admins: [admin@localhost] }
limits:
  auth: { max_failures_per_address: 3, max_failures_per_account_address: 0, block_duration: 60 }
`);
    port = server.server.listening.http[0]!.port;
    await server.addUser('admin', 'localhost', 'right');
    await server.addUser('alice', 'localhost', 'hers');
  });
  after(async () => {
    await server?.stop();
  });

  test('the login page is served with the security headers and a token of its own', async () => {
    const page = await call('GET', '/admin/login');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'.*frame-ancestors 'none'/);
    assert.deepEqual([page.headers['x-frame-options'], page.headers['cache-control'], page.headers['x-content-type-options']], ['DENY', 'no-store', 'nosniff']);
    assert.match((page.headers['set-cookie'] as string[])[0]!, new RegExp(`^${LOGIN_COOKIE}=[\\w-]{43}; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict$`));
    assert.equal((await call('GET', '/admin')).headers.location, '/admin/');
  });

  test('an account that is not an admin does not log in, with its right password', async () => {
    const answer = await login('alice@localhost', 'hers');
    assert.equal(answer.status, 401);
    assert.equal(String(answer.headers['set-cookie'] ?? '').includes(SESSION_COOKIE), false);
  });

  test('the admin logs in; a change needs JSON', async () => {
    const answer = await login('admin@localhost', 'right');
    assert.equal(answer.status, 200, answer.body);
    const session = (answer.headers['set-cookie'] as string[]).find((line) => line.startsWith(`${SESSION_COOKIE}=`))!;
    assert.match(session, /; Path=\/; Max-Age=28800; Secure; HttpOnly; SameSite=Strict$/);
    const cookie = session.split(';')[0]!;
    const page = await call('GET', '/admin/', { Cookie: cookie });
    const csrf = /name="csrf-token" content="([^"]+)"/.exec(page.body)?.[1] ?? '';
    assert.equal((await call('POST', '/admin/api/users', { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/x-www-form-urlencoded' }, 'account=bob%40localhost&password=x')).status, 400);
    const created = await call('POST', '/admin/api/users', { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, JSON.stringify({ account: 'bob@localhost', password: 'x' }));
    assert.equal(created.status, 201, created.body);
    assert.equal(JSON.parse((await call('GET', '/admin/api/users?q=bob', { Cookie: cookie })).body).total, 1);
  });

  test('failed logins count in limits.auth: past them the right password is refused too, with Retry-After', async () => {
    // alice's try above was one failure from this address; two more reach max_failures_per_address.
    assert.equal((await login('admin@localhost', 'wrong')).status, 401);
    assert.equal((await login('admin@localhost', 'wrong again')).status, 401);
    const blocked = await login('admin@localhost', 'right');
    assert.equal(blocked.status, 429, blocked.body);
    assert.ok(Number(blocked.headers['retry-after']) > 0 && Number(blocked.headers['retry-after']) <= 60);
    assert.match(JSON.parse(blocked.body).error, /too many failed logins/);
    // The client connects from the default source address.
    await server.waitForLog('console login failed', 'account=admin@localhost', 'address=127.0.0.1');
  });
});
