/**
 * An invitation's landing page (XEP-0401 "Landing Page") on the HTTPS listener: the invitation
 * command names it (`landing-url`), it says who invites to what with the `xmpp:` link as a
 * button, it is never cached and sends no referrer, and a used, unknown or expired token gets the
 * same "not found" page. Read over HTTP and in Debian's chromium.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { parseJid } from '../src/jid/jid.ts';
import { invitationPage } from '../src/modules/register/invite-page.ts';
import { createAccountInvite, createInvite, takeContactInvite } from '../src/modules/register/invites.ts';
import { httpCall, httpGetUrl, startWebTestServer, type WebTestServer } from './support/https.ts';
import { iqReply } from './support/raw-client.ts';
import { login } from './support/login.ts';

let web: WebTestServer;
before(async () => {
  web = await startWebTestServer('registration:\n  user_invites: account\n');
  await web.server.addUser('alice', 'localhost', 'alice-pw');
});
after(() => web.server.stop());

const field = (answer: string, name: string): string | undefined => new RegExp(`<field var=["']${name}["'][^>]*><value>([^<]+)</value>`).exec(answer)?.[1];
const page = (path: string, method = 'GET') => httpCall({ port: web.port, path, host: 'localhost', ca: web.ca, method });

async function aliceInvites(): Promise<{ uri: string; landing: string }> {
  const { client } = await login(web.server, { username: 'alice', password: 'alice-pw', resource: 'r' });
  const answer = await iqReply(client, "<iq type='set' id='ID' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#invite' action='execute'/></iq>");
  client.close();
  return { uri: field(answer, 'uri')!, landing: field(answer, 'landing-url')! };
}

test("the invitation command names the landing page, which shows the inviter and the link as a button, uncached", async () => {
  const { uri, landing } = await aliceInvites();
  assert.match(landing, new RegExp(`^https://localhost:${web.port}/invite/[A-Za-z0-9_-]{32}$`));
  assert.equal(landing.slice(landing.lastIndexOf('/') + 1), /preauth=([^;]+)/.exec(uri)![1]);
  const answer = await httpGetUrl(landing, web.ca);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(answer.headers['cache-control'], 'no-store');
  assert.equal(answer.headers['referrer-policy'], 'no-referrer');
  assert.match(String(answer.headers['content-security-policy']), /default-src 'none'/);
  const html = answer.body.toString();
  assert.match(html, /<h1>alice@localhost invites you to chat<\/h1>/);
  assert.ok(html.includes(`<a class="open" href="${uri}">`), html);
  assert.match(html, /if you have no account yet, it can create one on localhost/);
  assert.match(html, /Conversations/);
  assert.doesNotMatch(html, /<script/i);

  const head = await page(new URL(landing).pathname, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal((await page(new URL(landing).pathname, 'POST')).status, 405);
});

test('a used, unknown, malformed or expired invitation gets the same page: not found', async () => {
  const storage = web.server.server.storage;
  const used = await createAccountInvite(storage, parseJid('alice@localhost'), 7, true);
  assert.ok(await takeContactInvite(storage, parseJid('alice@localhost'), used.token));
  const expired = await createInvite(storage, { domain: 'localhost', expires: Date.now() - 1 });
  for (const path of [`/invite/${used.token}`, `/invite/${'A'.repeat(32)}`, '/invite/../../etc/passwd', '/invite/%E0%A4%A', '/invite/', `/invite/${expired.token}`]) {
    const answer = await page(path);
    assert.equal(answer.status, 404, path);
    assert.match(answer.body.toString(), /This invitation is unknown, used or expired/, path);
  }
});

test("the apps for the visitor's platform come first, as its User-Agent says", async () => {
  const { token } = await createInvite(web.server.server.storage, { domain: 'localhost', expires: Date.now() + 60_000 });
  const firstApps = async (userAgent?: string) => {
    const answer = await httpCall({ port: web.port, path: `/invite/${token}`, host: 'localhost', ca: web.ca, ...(userAgent ? { headers: { 'User-Agent': userAgent } } : {}) });
    return /<ul>\s*<li>([^<]*)/.exec(answer.body.toString())![1];
  };
  assert.equal(await firstApps('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36'), 'Android (this device): ');
  assert.equal(await firstApps('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148'), 'iPhone, iPad and Mac (this device): ');
  assert.equal(await firstApps('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'), 'Windows and Linux (this device): ');
  assert.equal(await firstApps(), 'Android: ', 'no User-Agent: the list as it is');
});

test("an administrator's invitation to register says so; what the page shows is escaped", async () => {
  const { token } = await createInvite(web.server.server.storage, { domain: 'localhost', username: 'juliet', expires: Date.now() + 60_000 });
  const html = (await page(`/invite/${token}`)).body.toString();
  assert.match(html, /<h1>You are invited to join localhost<\/h1>/);
  assert.match(html, /creates your account on localhost with the name juliet/);
  assert.ok(html.includes(`href="xmpp:juliet@localhost?register;preauth=${token}"`));
  const crafted = invitationPage({ domain: 'a<b>"c', expires: Date.now() + 1000, inviter: 'x@a<b>"c' }, 'T');
  assert.doesNotMatch(crafted, /a<b>/);
  assert.match(crafted, /x@a&lt;b&gt;/);
});

test('in chromium: the page reads as an invitation and its button opens the xmpp: link', async () => {
  const { uri, landing } = await aliceInvites();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const tab = await context.newPage();
    const response = await tab.goto(landing);
    assert.equal(response?.status(), 200);
    assert.equal(await tab.title(), 'alice@localhost invites you to chat');
    assert.equal(await tab.locator('h1').innerText(), 'alice@localhost invites you to chat');
    const button = tab.locator('a.open');
    assert.equal(await button.innerText(), 'Open the invitation in your app');
    assert.equal(await button.getAttribute('href'), uri);
    assert.ok(await button.isVisible());
    assert.match(await tab.locator('li').first().innerText(), /^Windows and Linux \(this device\)/, "headless chromium on Linux: the desktop apps first");
  } finally {
    await browser.close();
  }
});
