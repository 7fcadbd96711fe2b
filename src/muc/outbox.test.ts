import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Router } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { Outbox } from './outbox.ts';

const silent = { warn() {}, error() {} } as unknown as Logger;
/** A router that takes one macrotask per stanza, as sockets do, and records what it got. */
function slowRouter(routed: string[]): Router {
  const route = async (stanza: Element): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve));
    routed.push(stanza.attrs.id!);
  };
  return { route, deliverNow: () => false } as unknown as Router;
}
const stanza = (id: string) => el('message', NS_CLIENT, { id, to: 'someone@example.com/r' });

test('input is held back in arrival order while more than a tenth of the queue waits, and nothing is dropped', async () => {
  const routed: string[] = [];
  const outbox = new Outbox(slowRouter(routed), silent, 100);
  assert.equal(outbox.admit(), undefined, 'an idle outbox admits at once');
  for (let index = 0; index < 30; index++) outbox.send(stanza(`burst-${index}`));
  const admitted: string[] = [];
  // Three inputs, each producing 30 stanzas once admitted: room for one at a time.
  const inputs = ['a', 'b', 'c'].map(async (name) => {
    await outbox.admit();
    admitted.push(name);
    assert.ok(outbox.waiting < 10, `${name} admitted with ${outbox.waiting} waiting`);
    for (let index = 0; index < 30; index++) outbox.send(stanza(`${name}-${index}`));
  });
  await Promise.all(inputs);
  await outbox.idle();
  assert.deepEqual(admitted, ['a', 'b', 'c']);
  assert.equal(outbox.dropped, 0);
  assert.equal(routed.length, 120);
  assert.deepEqual(routed.filter((id) => id.startsWith('b-')), Array.from({ length: 30 }, (_, index) => `b-${index}`));
});
