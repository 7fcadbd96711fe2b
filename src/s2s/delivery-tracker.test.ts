import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Element } from '../xml/element.ts';
import { DeliveryTracker, MAX_UNACKNOWLEDGED } from './delivery-tracker.ts';

const PAIR = { local: 'a.example', remote: 'b.example' };

/** A stream whose socket takes what was written when the test says so. */
function stream() {
  const fake = {
    queued: 0,
    writtenOffset: 0,
    xml: [] as string[],
    write(xml: string): number {
      fake.xml.push(xml);
      return (fake.queued += xml.length);
    },
  };
  return fake;
}

const stanza = (id: string) => new Element('message', 'jabber:client', { id, to: 'x@b.example' });
const ids = (tracked: { stanza: Element }[]) => tracked.map(({ stanza }) => stanza.attrs.id);

describe('the delivery tracker', () => {
  test('without acknowledgements, what the socket took is the peer’s; the rest comes back, in order', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake);
    tracker.send(stanza('m1'), PAIR, 0);
    tracker.send(stanza('m2'), PAIR, 1);
    fake.writtenOffset = fake.xml[0]!.length;
    tracker.written(fake.writtenOffset);
    const back = tracker.takeUnconfirmed();
    assert.deepEqual([ids(back), back[0]?.resends, back[0]?.pair], [['m2'], 1, PAIR]);
  });

  test('with acknowledgements (XEP-0198), only what the peer counted is the peer’s', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake);
    tracker.startAcks();
    for (const id of ['m1', 'm2', 'm3']) tracker.send(stanza(id), PAIR, 0);
    fake.writtenOffset = fake.queued;
    tracker.written(fake.writtenOffset);
    assert.equal(tracker.acknowledge(1), true);
    assert.equal(tracker.acknowledge(4), false, 'more than was sent');
    assert.deepEqual(ids(tracker.takeUnconfirmed()), ['m2', 'm3']);
  });

  test('a peer that stops acknowledging is held to what the socket took: acknowledgements are given up past the bound', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake);
    tracker.startAcks();
    for (let n = 0; n < MAX_UNACKNOWLEDGED; n++) assert.equal(tracker.send(stanza(`m${n}`), PAIR, 0), true);
    assert.equal(tracker.send(stanza('over'), PAIR, 0), false);
    fake.writtenOffset = fake.queued;
    tracker.written(fake.writtenOffset);
    assert.deepEqual(tracker.takeUnconfirmed(), [], 'everything the socket took counts as delivered');
  });
});
