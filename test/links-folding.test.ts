/**
 * Presence and message folding on a link (docs/links.md, "Saving bytes"): the peering rule that
 * routes a domain over a link also folds what crosses it, and the link carries fewer bytes.
 *
 *   A hosts air.example; its link "plain" carries plain.example, its link "lean" folds.example,
 *   whose peering rule folds presence to away/available and strips formatting and chat states
 *   B hosts plain.example and folds.example (addresses of the same length), one listening link each
 *
 * Alice has Bob at both domains as contacts; she changes her presence and sends each the same
 * message, as a desktop client writes them. The bytes each link wrote for each are printed as
 * test diagnostics (the figures in docs/links.md).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.ts';
import { parseJid } from '../src/jid/jid.ts';
import { PolicySnapshot } from '../src/policy/snapshot.ts';
import type { RosterItem } from '../src/storage/types.ts';
import { NS_CLIENT } from '../src/xml/element.ts';
import { parseElement } from '../src/xml/parse-element.ts';
import { serialize } from '../src/xml/serialize.ts';
import { loginAt, startLinkServer } from './support/link-server.ts';
import type { RawClient } from './support/raw-client.ts';
import type { TestServer } from './support/server.ts';
import { sleep } from './support/server-process.ts';

const PRESENCE = `<presence><show>away</show><status>In a meeting until 15:00</status><priority>10</priority>
<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='4Hj3XvJTzbnmXWFhGGfOWK4Z6Gc='/>
<x xmlns='vcard-temp:x:update'><photo>01b87fcd030b72895ff8e88db57ec525450f000d</photo></x>
<idle xmlns='urn:xmpp:idle:1' since='2026-12-03T14:00:00Z'/></presence>`;

const message = (to: string) => `<message to='${to}' type='chat' id='m-${to}'><body>ETA 1420, fuel 40 percent</body>
<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>ETA <strong>1420</strong>, fuel 40 percent</p></body></html>
<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='0a1b2c3d'/></message>`;

const contact = (jid: string, subscription: RosterItem['subscription']): RosterItem => ({ jid, subscription, askOut: false, askIn: false, approved: false, groups: [] });

describe('folding on a link', () => {
  let a: TestServer;
  let b: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    b = await startLinkServer(
      `  plain: { connect: in, address: "127.0.130.12:0", peer_addresses: ["127.0.0.0/8"], local_domains: [plain.example], remote_domains: [air.example] }
  lean: { connect: in, address: "127.0.130.13:0", peer_addresses: ["127.0.0.0/8"], local_domains: [folds.example], remote_domains: [air.example] }`,
      's2s: { enabled: false }\nhosts: { plain.example: {}, folds.example: {} }',
    );
    const listening = (name: string) => b.server.links.links.get(name)!.listening!;
    a = await startLinkServer(
      `  plain: { connect: out, address: "${listening('plain')}", local_domains: [air.example], remote_domains: [plain.example] }
  lean: { connect: out, address: "${listening('lean')}", local_domains: [air.example], remote_domains: [folds.example] }`,
      `s2s:
  enabled: false
  peering:
    plain.example: { link: plain }
    folds.example: { link: lean, fold_presence: away, strip_elements: ["http://jabber.org/protocol/xhtml-im"], drop_chat_states: true }
hosts:
  air.example: {}`,
    );
    await a.addUser('alice', 'air.example', 'secret');
    for (const domain of ['plain.example', 'folds.example']) {
      await b.addUser('bob', domain, 'secret');
      await a.server.storage.rosters.setItem('air.example', 'alice', contact(`bob@${domain}`, 'from'));
      await b.server.storage.rosters.setItem(domain, 'bob', contact('alice@air.example', 'to'));
    }
    for (const name of ['plain', 'lean']) {
      const link = a.server.links.links.get(name)!;
      for (let i = 0; i < 100 && !link.up; i++) await sleep(50);
      assert.ok(link.up, `the link ${name} came up`);
    }
    clients.push(await loginAt(b, 'plain.example', 'bob'), await loginAt(b, 'folds.example', 'bob'), await loginAt(a, 'air.example', 'alice'));
  });
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all([a, b].map((server) => server?.stop()));
  });

  /** The bytes each link writes while `act` runs and what it sends arrives (at the folding link's Bob too, unless `dropped`). */
  async function bytesOf(act: () => void, arrived: (bob: RawClient) => RegExp, dropped = false): Promise<{ plain: number; lean: number }> {
    const [plainBob, leanBob] = clients as [RawClient, RawClient, RawClient];
    const links = { plain: a.server.links.links.get('plain')!, lean: a.server.links.links.get('lean')! };
    await sleep(300);
    const before = { plain: links.plain.counters.bytesOut, lean: links.lean.counters.bytesOut };
    act();
    await plainBob.waitFor(arrived(plainBob));
    if (dropped) await sleep(300);
    else await leanBob.waitFor(arrived(leanBob));
    return { plain: links.plain.counters.bytesOut - before.plain, lean: links.lean.counters.bytesOut - before.lean };
  }

  test('a presence change crosses the folding link as <show/> only, in fewer bytes', async (t) => {
    const alice = clients[2]!;
    const bytes = await bytesOf(
      () => alice.send(PRESENCE),
      () => /<presence from=["']alice@air\.example\/r["'][^>]*>[\s\S]*?<show>away<\/show>[\s\S]*?<\/presence>/,
    );
    const folded = clients[1]!.received.match(/<presence from=["']alice@air\.example\/r["'][^>]*>[\s\S]*?<\/presence>/g)!.at(-1)!;
    assert.doesNotMatch(folded, /status|caps|photo|idle|priority/, folded);
    assert.match(clients[0]!.received, /In a meeting until 15:00[\s\S]*vcard-temp:x:update/);
    t.diagnostic(`presence change: ${bytes.plain} bytes without folding, ${bytes.lean} with fold_presence: away`);
    assert.ok(bytes.lean > 0 && bytes.lean * 3 < bytes.plain, JSON.stringify(bytes));
  });

  test('a message crosses the folding link without formatting or chat state, in fewer bytes', async (t) => {
    const alice = clients[2]!;
    const bytes = await bytesOf(
      () => {
        alice.send(message('bob@plain.example'));
        alice.send(message('bob@folds.example'));
      },
      (bob) => new RegExp(`id=["']m-bob@${bob === clients[0] ? 'plain' : 'folds'}\\.example["']`),
    );
    assert.doesNotMatch(clients[1]!.received, /xhtml-im|chatstates/);
    assert.match(clients[1]!.received, /urn:xmpp:receipts/);
    assert.match(clients[0]!.received, /xhtml-im[\s\S]*chatstates/);
    t.diagnostic(`message: ${bytes.plain} bytes without folding, ${bytes.lean} with strip_elements (XHTML-IM) and drop_chat_states`);
    assert.ok(bytes.lean > 0 && bytes.lean < bytes.plain, JSON.stringify(bytes));
  });

  test('a chat state alone does not cross the folding link at all', async (t) => {
    const alice = clients[2]!;
    const typing = (to: string) => `<message to='${to}' type='chat' id='typing-${to}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`;
    const bytes = await bytesOf(
      () => {
        alice.send(typing('bob@plain.example'));
        alice.send(typing('bob@folds.example'));
      },
      () => /id=["']typing-bob@plain\.example["']/,
      true,
    );
    t.diagnostic(`chat state alone: ${bytes.plain} bytes without folding, ${bytes.lean} with drop_chat_states`);
    assert.ok(bytes.plain > 0, JSON.stringify(bytes));
    assert.equal(bytes.lean, 0);
  });
});

test('the folding example of docs/links.md folds presence for the linked domain', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'links.md'), 'utf8');
  const config = parseConfig(/```yaml\n# example: folding\n([\s\S]*?)```/.exec(doc)![1]!, { baseDir: '/' });
  const policy = new PolicySnapshot(config);
  assert.equal(policy.route('ground.example').kind === 'route' && policy.route('ground.example').text, 'ground.example over the link lean');
  const presence = parseElement(PRESENCE, undefined, NS_CLIENT);
  const judged = policy.stanzaCrossing(presence, { direction: 'out', from: parseJid('alice@air.example/r'), to: parseJid('bob@ground.example') });
  assert.equal(judged.verdict.kind, 'transform');
  assert.equal(judged.verdict.kind === 'transform' && serialize(judged.verdict.stanza, NS_CLIENT), '<presence><show>away</show></presence>');
});
