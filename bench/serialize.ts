/**
 * Measures whether caching serialized output pays for presence broadcast: one presence sent
 * to many recipients, differing only in `to`. Run: node_modules/.bin/node bench/serialize.ts
 */

import { Element, NS_CLIENT, el } from '../src/xml/element.ts';
import { serialize } from '../src/xml/serialize.ts';
import { SerializedStanza } from '../src/xml/serialized-stanza.ts';

const RECIPIENTS = 200;
const ROUNDS = 2000;

const presence = el(
  'presence',
  NS_CLIENT,
  { from: 'juliet@example.com/balcony', id: 'p1' },
  el('show', NS_CLIENT, {}, 'away'),
  el('status', NS_CLIENT, {}, 'In a meeting until 3 — back soon'),
  el('priority', NS_CLIENT, {}, '5'),
  el('c', 'http://jabber.org/protocol/caps', { hash: 'sha-1', node: 'https://gajim.org', ver: 'QgayPKawpkPSDYmwT/WM94uAlu0=' }),
  el('delay', 'urn:xmpp:delay', { from: 'example.com', stamp: '2002-09-10T23:41:07Z' }),
);
const recipients = Array.from({ length: RECIPIENTS }, (_, k) => `contact${k}@example.org/res`);

function measure(name: string, body: () => number): void {
  const times: number[] = [];
  let bytes = 0;
  for (let run = 0; run < 9; run++) {
    const started = performance.now();
    for (let round = 0; round < ROUNDS; round++) bytes += body();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const perStanza = (times[4] * 1e6) / (ROUNDS * RECIPIENTS);
  console.log(`| ${name} | ${perStanza.toFixed(0)} ns | ${bytes > 0 ? 'ok' : ''} |`);
}

console.log(`\nPresence broadcast to ${RECIPIENTS} recipients, median of 9 runs\n`);
console.log('| strategy | per recipient | |');
console.log('|---|---:|---|');
measure('serialize a copy per recipient', () => {
  let total = 0;
  for (const to of recipients) {
    const copy = new Element(presence.name, presence.xmlns, { ...presence.attrs, to }, presence.children);
    total += serialize(copy, NS_CLIENT).length;
  }
  return total;
});
measure('SerializedStanza: children once, start tag per recipient', () => {
  let total = 0;
  const prepared = new SerializedStanza(presence, NS_CLIENT);
  for (const to of recipients) total += prepared.withAttrs({ to }).length;
  return total;
});
