/**
 * WebSocket clients (RFC 7395) on the HTTPS listener: host-meta discovery (XEP-0156), a real
 * @xmpp/client over its WebSocket transport chatting with a TCP client, and a raw WebSocket
 * client that breaks the framing rules, which ends only its own stream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { httpCall, startWebTestServer } from './support/https.ts';
import type { TestServer } from './support/server.ts';
import { startSlixmpp } from './support/slixmpp.ts';
import { startXmppjsWebSocket } from './support/xmppjs.ts';

const PASSWORD = 'correct horse';
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

/** A raw WebSocket client that keeps every text message it receives. */
class RawWebSocket {
  readonly messages: string[] = [];
  readonly closed: Promise<number>;
  readonly socket: WebSocket;
  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => this.messages.push(String(data)));
    this.closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
  }

  static async connect(url: string, ca: Buffer, protocols: string[] = ['xmpp']): Promise<RawWebSocket> {
    const socket = new WebSocket(url, protocols, { ca });
    const client = new RawWebSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  async waitFor(predicate: (message: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no message ${what}; got ${JSON.stringify(this.messages)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('WebSocket clients (RFC 7395)', () => {
  let server: TestServer;
  let port: number;
  let ca: Buffer;
  let url: string;
  const clients: ClientDriver[] = [];

  before(async () => {
    ({ server, port, ca } = await startWebTestServer());
    url = `wss://localhost:${port}/xmpp-websocket`;
  });
  after(async () => {
    for (const client of clients) client.stop();
    await server.stop();
  });

  test('host-meta and host-meta.json name the WebSocket endpoint of a hosted domain (XEP-0156)', async () => {
    const xrd = await httpCall({ port, path: '/.well-known/host-meta', host: 'localhost', ca });
    assert.equal(xrd.status, 200);
    assert.match(String(xrd.headers['content-type']), /^application\/xrd\+xml/);
    assert.equal(xrd.headers['access-control-allow-origin'], '*');
    assert.match(xrd.body.toString(), new RegExp(`<Link rel='urn:xmpp:alt-connections:websocket' href='${url}'/>`));
    const jrd = await httpCall({ port, path: '/.well-known/host-meta.json', host: 'localhost', ca });
    assert.deepEqual(JSON.parse(jrd.body.toString()), { links: [{ rel: 'urn:xmpp:alt-connections:websocket', href: url }] });
    const unknown = await httpCall({ port, path: '/.well-known/host-meta', host: 'elsewhere.example', ca: undefined, headers: {} }).catch(() => undefined);
    // Plain HTTP to the HTTPS port is not answered as HTTP.
    assert.notEqual(unknown?.status, 200);
    const notHosted = await httpCall({ port, path: '/.well-known/host-meta.json', host: 'conference.localhost', servername: 'localhost', ca });
    assert.equal(notHosted.status, 404);
  });

  /** New accounts `webName` and `tcpName`, logged in with @xmpp/client over WebSocket and slixmpp over TCP. */
  async function webAndTcp(webName: string, tcpName: string): Promise<{ web: ClientDriver; tcp: ClientDriver }> {
    await server.addUser(webName, 'localhost', PASSWORD);
    await server.addUser(tcpName, 'localhost', PASSWORD);
    const web = await startXmppjsWebSocket(server, url, webName, 'localhost', PASSWORD);
    clients.push(web);
    const tcp = await startSlixmpp(server, `${tcpName}@localhost/tcp`, PASSWORD);
    clients.push(tcp);
    return { web, tcp };
  }

  test('@xmpp/client logs in over WebSocket and chats with a TCP client', async () => {
    const { web, tcp } = await webAndTcp('webby', 'tcpy');
    assert.match(web.jid, /^webby@localhost\//);
    await tcp.ok({ op: 'message', to: web.jid, body: 'hello from TCP' });
    await web.waitEvent((event: DriverEvent) => event.event === 'message' && event.body === 'hello from TCP' && String(event.from).startsWith('tcpy@localhost/'));
    await web.ok({ op: 'message', to: 'tcpy@localhost/tcp', body: 'hello from the web' });
    await tcp.waitEvent((event: DriverEvent) => event.event === 'message' && event.body === 'hello from the web' && String(event.from) === web.jid);
    await server.waitForLog('c2s resource bound', 'webby@localhost');
    // The same session logic as over TCP: @xmpp/client enables stream management (XEP-0198).
    await server.waitForLog('c2s stream management enabled', 'webby@localhost');
  });

  test('the stream opens with <open/>, frames are documents of their own, and STARTTLS is not offered', async () => {
    const raw = await RawWebSocket.connect(url, ca);
    raw.socket.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
    const open = await raw.waitFor((message) => message.startsWith('<open'), '<open/>');
    assert.match(open, new RegExp(`^<open xmlns='${FRAMING}' from='localhost' id='[^']+' version='1.0' xml:lang='en'/>$`));
    const features = await raw.waitFor((message) => message.startsWith('<stream:features'), 'features');
    assert.match(features, /^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>/);
    assert.doesNotMatch(features, /starttls/);
    assert.match(features, /<mechanism>PLAIN<\/mechanism>/);
    // A WebSocket ping is answered with a pong.
    const pong = new Promise<void>((resolve) => raw.socket.once('pong', () => resolve()));
    raw.socket.ping();
    await pong;
    raw.socket.send(`<close xmlns="${FRAMING}"/>`);
    await raw.waitFor((message) => message === `<close xmlns='${FRAMING}'/>`, '<close/>');
    assert.equal(await raw.closed, 1000);
  });

  test('bad frames end that stream with a clear error while other clients keep chatting', async () => {
    const { web: steady, tcp: other } = await webAndTcp('steady', 'steady2');
    const badFrames: [string, string | Buffer][] = [
      ['binary', Buffer.from(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`)],
      ['two elements', `<open xmlns="${FRAMING}" to="localhost" version="1.0"/><close xmlns="${FRAMING}"/>`],
      ['half an element', "<message xmlns='jabber:client'><body>half"],
      ['a stream header', "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"],
    ];
    for (const [label, frame] of badFrames) {
      const raw = await RawWebSocket.connect(url, ca);
      raw.socket.send(frame);
      const error = await raw.waitFor((message) => message.startsWith('<stream:error'), `stream error after ${label}`);
      assert.match(error, /<bad-format xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/, label);
      assert.match(error, /RFC 7395/, label);
      await raw.waitFor((message) => message.startsWith('<close'), `<close/> after ${label}`);
      await raw.closed;
    }
    // A client that does not ask for the xmpp subprotocol is refused at the upgrade.
    await assert.rejects(RawWebSocket.connect(url, ca, ['chat']), /Unexpected server response: 400/);
    await other.ok({ op: 'message', to: steady.jid, body: 'still here?' });
    await steady.waitEvent((event: DriverEvent) => event.event === 'message' && event.body === 'still here?');
  });
});

describe('WebSocket clients sent elsewhere (RFC 7395 section 3.6.1)', () => {
  test('see_other_uri answers the <open/> with a <close/> naming the new endpoint', async () => {
    const { server, port, ca } = await startWebTestServer('', '  websocket: { see_other_uri: "wss://new.example/xmpp-websocket" }');
    try {
      const raw = await RawWebSocket.connect(`wss://localhost:${port}/xmpp-websocket`, ca);
      raw.socket.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
      const close = await raw.waitFor((message) => message.startsWith('<close'), '<close/>');
      assert.equal(close, `<close xmlns='${FRAMING}' see-other-uri='wss://new.example/xmpp-websocket'/>`);
      assert.equal(await raw.closed, 1000);
    } finally {
      await server.stop();
    }
  });
});
