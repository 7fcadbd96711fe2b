import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { parseConfig } from '../config/load.ts';
import type { LinkConfig } from '../config/types.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { LinkStream, renderForLink } from './link-stream.ts';

function linkConfig(extra = ''): LinkConfig {
  const config = parseConfig(`hosts: { a.example: {} }\nlinks:\n  l:\n    connect: out\n    address: "b.example:5361"\n    local_domains: [a.example]\n    remote_domains: [b.example]\n${extra}`, { baseDir: '/' });
  return config.links[0]!;
}

const chat = (body: string): Element => el('message', NS_CLIENT, { from: 'a@a.example/r', to: 'b@b.example', type: 'chat' }, el('body', NS_CLIENT, {}, body));

test('a stanza is written with no namespace of its own: the implicit root is jabber:server', () => {
  assert.equal(renderForLink(chat('hi'), linkConfig()), '<message from="a@a.example/r" to="b@b.example" type="chat"><body>hi</body></message>');
});

test('guard mode: one element per line, line ends in text escaped, prefixes and large elements refused', () => {
  const guard = linkConfig('    guard: { enabled: true }\n    max_stanza_bytes: 300\n');
  assert.equal(renderForLink(chat('line one\nline two'), guard), '<message from="a@a.example/r" to="b@b.example" type="chat"><body>line one&#10;line two</body></message>\n');
  const prefixed = chat('hi');
  prefixed.attrs['{urn:example:label}level'] = 'secret';
  assert.equal(renderForLink(prefixed, guard), 'prefixed');
  assert.equal(renderForLink(chat('x'.repeat(300)), guard), 'too-large');
  // Without guard mode the prefix is declared where it is used.
  assert.match(renderForLink(prefixed, linkConfig()) as string, /xmlns:ns0="urn:example:label" ns0:level="secret"/);
});

test('the first bytes on the socket are stanzas, and a stanza larger than the limit ends the connection', async (t) => {
  const received: Element[] = [];
  let closedWith = '';
  let peerSocket: Socket | undefined;
  const server = createServer((socket) => {
    peerSocket = socket;
    new LinkStream(socket, linkConfig('    max_stanza_bytes: 512\n'), { stanza: async (element) => void received.push(element), closed: (reason) => (closedWith = reason) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
  let answer = '';
  client.on('data', (chunk) => (answer += chunk.toString()));
  await new Promise((resolve) => client.once('connect', resolve));
  client.write("<message xmlns='jabber:server' from='b@b.example' to='a@a.example'><body>first</body></message><presence from='b@b.example/r' to='a@a.example'/>");
  for (let i = 0; i < 40 && received.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.deepEqual(received.map((element) => [element.name, element.xmlns]), [['message', NS_CLIENT], ['presence', NS_CLIENT]]);
  client.write(`<message from='b@b.example' to='a@a.example'><body>${'x'.repeat(600)}</body></message>`);
  await new Promise((resolve) => client.once('close', resolve));
  assert.match(answer, /^<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><\/stream:error><\/stream:stream>$/);
  assert.match(closedWith, /stream error/);
  assert.equal(received.length, 2);
  peerSocket?.destroy();
});
