/**
 * The behaviour every storage driver must show, as one node:test suite. A driver's test file calls
 * `storageContract` with a way to open a storage; each test opens its own and closes it afterwards,
 * and works in domains and keys of its own, so `open` may hand out the same database every time.
 */
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AccountExistsError } from './types.ts';
import { mucRoomTests } from './contract-muc.ts';
import { pubsubTests } from './contract-pubsub.ts';
import { linkQueueTests } from './contract-link-queue.ts';
import { archiveTests } from './contract-archive.ts';
import { policyAuditTests } from './contract-audit.ts';
import { fastTokenTests } from './contract-fast-tokens.ts';
import type { OfflineMessage, OfflineQuota, RosterItem, Storage, StoredCredentials } from './types.ts';

export function storageContract(
  name: string,
  open: () => Promise<Storage>,
  cleanup?: () => Promise<void>,
): void {
  describe(`storage contract: ${name}`, () => {
    if (cleanup !== undefined) after(cleanup);

    const openFor = async (t: TestContext): Promise<Storage> => {
      const storage = await open();
      t.after(() => storage.close());
      return storage;
    };

    describe('accounts', () => accountTests(openFor));
    describe('rosters', () => rosterTests(openFor));
    describe('offline', () => offlineTests(openFor));
    describe('userData', () => userDataTests(openFor));
    describe('serverData', () => serverDataTests(openFor));
    describe('abuseRules', () => abuseRuleTests(openFor));
    describe('mucRooms', () => mucRoomTests(openFor));
    describe('pubsub', () => pubsubTests(openFor));
    describe('linkQueues', () => linkQueueTests(openFor));
    describe('archive', () => archiveTests(openFor));
    describe('policyAudit', () => policyAuditTests(openFor));
    describe('fastTokens', () => fastTokenTests(openFor));
  });
}

type OpenFor = (t: TestContext) => Promise<Storage>;

/** A domain no other test uses, so tests never see each other's rows. */
function freshDomain(): string {
  return `${randomUUID()}.example`;
}

function credentials(seed: string): Required<StoredCredentials> {
  const b64 = (text: string): string => Buffer.from(`${seed}:${text}`).toString('base64');
  return {
    'SCRAM-SHA-1': { salt: b64('salt1'), iterations: 4096, storedKey: b64('stored1'), serverKey: b64('server1') },
    'SCRAM-SHA-256': {
      salt: b64('salt256'),
      iterations: 8192,
      storedKey: b64('stored256'),
      serverKey: b64('server256'),
    },
  };
}

function item(jid: string, changes: Partial<RosterItem> = {}): RosterItem {
  return { jid, subscription: 'none', askOut: false, askIn: false, approved: false, groups: [], ...changes };
}

/** Code point order, which is byte order of the UTF-8 encoding. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function accountTests(openFor: OpenFor): void {
  test('create then get returns the credentials', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.accounts.create(domain, 'alice', credentials('a'));
    assert.deepEqual(await storage.accounts.get(domain, 'alice'), credentials('a'));
  });

  test('an account with one SCRAM verifier keeps only that one', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const sha1Only: StoredCredentials = { 'SCRAM-SHA-1': credentials('imported')['SCRAM-SHA-1'] };
    await storage.accounts.create(domain, 'imported', sha1Only);
    assert.deepEqual(await storage.accounts.get(domain, 'imported'), sha1Only);
    const sha256Only: StoredCredentials = { 'SCRAM-SHA-256': credentials('imported')['SCRAM-SHA-256'] };
    assert.equal(await storage.accounts.setCredentials(domain, 'imported', sha256Only), true);
    assert.deepEqual(await storage.accounts.get(domain, 'imported'), sha256Only);
  });

  test('get of an unknown account is undefined', async (t) => {
    const storage = await openFor(t);
    assert.equal(await storage.accounts.get(freshDomain(), 'nobody'), undefined);
  });

  test('creating an existing account rejects with AccountExistsError and keeps the first', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.accounts.create(domain, 'alice', credentials('first'));
    await assert.rejects(storage.accounts.create(domain, 'alice', credentials('second')), AccountExistsError);
    assert.deepEqual(await storage.accounts.get(domain, 'alice'), credentials('first'));
  });

  test('setCredentials replaces them, and is false for an unknown account', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.accounts.create(domain, 'alice', credentials('old'));
    assert.equal(await storage.accounts.setCredentials(domain, 'alice', credentials('new')), true);
    assert.deepEqual(await storage.accounts.get(domain, 'alice'), credentials('new'));
    assert.equal(await storage.accounts.setCredentials(domain, 'bob', credentials('new')), false);
    assert.equal(await storage.accounts.get(domain, 'bob'), undefined);
  });

  test('delete removes the account and is false the second time', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.accounts.create(domain, 'alice', credentials('a'));
    assert.equal(await storage.accounts.delete(domain, 'alice'), true);
    assert.equal(await storage.accounts.get(domain, 'alice'), undefined);
    assert.equal(await storage.accounts.delete(domain, 'alice'), false);
    await storage.accounts.create(domain, 'alice', credentials('again'));
    assert.deepEqual(await storage.accounts.get(domain, 'alice'), credentials('again'));
  });

  test('delete removes roster, offline messages and user data, and nothing of other users', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    for (const user of ['alice', 'bob']) {
      await storage.accounts.create(domain, user, credentials(user));
      await storage.rosters.setItem(domain, user, item('carol@example.net'));
      await storage.offline.push(domain, user, '<message/>', 'carol@example.net', quota(10));
      await storage.userData.set(domain, user, 'vcard', '<vCard/>');
    }
    assert.equal(await storage.accounts.delete(domain, 'alice'), true);

    assert.deepEqual(await storage.rosters.get(domain, 'alice'), { version: 0, items: [] });
    assert.equal(await storage.offline.count(domain, 'alice'), 0);
    assert.deepEqual(await storage.userData.keys(domain, 'alice'), []);

    assert.equal((await storage.rosters.get(domain, 'bob')).items.length, 1);
    assert.equal(await storage.offline.count(domain, 'bob'), 1);
    assert.equal(await storage.offline.total(), 1, "bob's message is the only one left in any mailbox");
    assert.equal(await storage.userData.get(domain, 'bob', 'vcard'), '<vCard/>');
  });

  test('list returns the usernames of one domain, sorted', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    assert.deepEqual(await storage.accounts.list(domain), []);
    for (const user of ['mallory', 'alice', 'zed', 'bob']) {
      await storage.accounts.create(domain, user, credentials(user));
    }
    assert.deepEqual(await storage.accounts.list(domain), ['alice', 'bob', 'mallory', 'zed']);
  });

  test('domains are isolated', async (t) => {
    const storage = await openFor(t);
    const first = freshDomain();
    const second = freshDomain();
    await storage.accounts.create(first, 'alice', credentials('first'));
    await storage.accounts.create(second, 'alice', credentials('second'));
    await storage.accounts.create(second, 'bob', credentials('bob'));

    assert.deepEqual(await storage.accounts.list(first), ['alice']);
    assert.deepEqual(await storage.accounts.get(second, 'alice'), credentials('second'));
    assert.equal(await storage.accounts.delete(first, 'alice'), true);
    assert.deepEqual(await storage.accounts.get(second, 'alice'), credentials('second'));
    assert.deepEqual(await storage.accounts.list(second), ['alice', 'bob']);
  });

  test('unicode usernames are kept and compared byte for byte', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    // "müller" precomposed and decomposed are different prepared strings to storage.
    const names = ['m\u00fcller', 'mu\u0308ller', '\u65e5\u672c\u8a9e', '\u03c9mega', 'z\u00eb', '\u{1f600}', '\uff5e'];
    for (const name of names) await storage.accounts.create(domain, name, credentials(name));
    for (const name of names) assert.deepEqual(await storage.accounts.get(domain, name), credentials(name));
    assert.deepEqual(await storage.accounts.list(domain), [...names].sort(byCodePoint));
    assert.equal(await storage.accounts.get(domain, 'MÜLLER'), undefined);
    assert.equal(await storage.accounts.get(domain, 'muller'), undefined);
  });

  test('usernames are case sensitive', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.accounts.create(domain, 'alice', credentials('lower'));
    await storage.accounts.create(domain, 'Alice', credentials('upper'));
    assert.deepEqual(await storage.accounts.get(domain, 'Alice'), credentials('upper'));
    assert.deepEqual(await storage.accounts.list(domain), ['Alice', 'alice']);
  });
}

function rosterTests(openFor: OpenFor): void {
  test('a user without roster has version 0 and no items', async (t) => {
    const storage = await openFor(t);
    assert.deepEqual(await storage.rosters.get(freshDomain(), 'alice'), { version: 0, items: [] });
    assert.equal(await storage.rosters.getItem(freshDomain(), 'alice', 'bob@example.net'), undefined);
  });

  test('setItem adds items and returns increasing versions', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const bob = item('bob@example.net', { name: 'Bob', subscription: 'both' });
    const carol = item('carol@example.org', { subscription: 'to' });
    assert.equal(await storage.rosters.setItem(domain, 'alice', bob), 1);
    assert.equal(await storage.rosters.setItem(domain, 'alice', carol), 2);

    const roster = await storage.rosters.get(domain, 'alice');
    assert.equal(roster.version, 2);
    assert.deepEqual(sortItems(roster.items), [bob, carol]);
    assert.deepEqual(await storage.rosters.getItem(domain, 'alice', 'carol@example.org'), carol);
  });

  test('presenceSubscribers lists the contacts with subscription from or both, of that user only', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    assert.deepEqual(await storage.rosters.presenceSubscribers(domain, 'alice'), []);
    const subscriptions = { 'none@example.net': 'none', 'to@example.net': 'to', 'from@example.net': 'from', 'both@example.net': 'both' } as const;
    for (const [jid, subscription] of Object.entries(subscriptions)) {
      await storage.rosters.setItem(domain, 'alice', item(jid, { subscription, askOut: subscription === 'none' }));
    }
    await storage.rosters.setItem(domain, 'bob', item('other@example.net', { subscription: 'both' }));
    await storage.rosters.setItem(freshDomain(), 'alice', item('elsewhere@example.net', { subscription: 'from' }));
    assert.deepEqual((await storage.rosters.presenceSubscribers(domain, 'alice')).sort(), ['both@example.net', 'from@example.net']);

    await storage.rosters.setItem(domain, 'alice', item('both@example.net', { subscription: 'to' }));
    await storage.rosters.removeItem(domain, 'alice', 'from@example.net');
    assert.deepEqual(await storage.rosters.presenceSubscribers(domain, 'alice'), []);
  });

  test('setItem replaces an item with the same jid', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.rosters.setItem(domain, 'alice', item('bob@example.net', { name: 'Bob', groups: ['Friends'] }));
    const replaced = item('bob@example.net', { subscription: 'from', groups: ['Work'] });
    assert.equal(await storage.rosters.setItem(domain, 'alice', replaced), 2);

    const roster = await storage.rosters.get(domain, 'alice');
    assert.deepEqual(roster, { version: 2, items: [replaced] });
    assert.equal(roster.items[0]!.name, undefined);
  });

  test('removeItem removes and bumps the version; an unknown item gives undefined', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    await storage.rosters.setItem(domain, 'alice', item('bob@example.net'));
    await storage.rosters.setItem(domain, 'alice', item('carol@example.net'));
    assert.equal(await storage.rosters.removeItem(domain, 'alice', 'bob@example.net'), 3);
    assert.equal(await storage.rosters.removeItem(domain, 'alice', 'bob@example.net'), undefined);
    assert.equal(await storage.rosters.removeItem(domain, 'alice', 'nobody@example.net'), undefined);

    const roster = await storage.rosters.get(domain, 'alice');
    assert.equal(roster.version, 3);
    assert.deepEqual(roster.items, [item('carol@example.net')]);
    assert.equal(await storage.rosters.getItem(domain, 'alice', 'bob@example.net'), undefined);
  });

  test('versions increase on every change and are kept per user', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      seen.push(await storage.rosters.setItem(domain, 'alice', item('bob@example.net', { name: `Bob ${round}` })));
      seen.push((await storage.rosters.removeItem(domain, 'alice', 'bob@example.net'))!);
    }
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `versions ${seen.join(',')}`);
    assert.equal((await storage.rosters.get(domain, 'alice')).version, seen.at(-1));

    assert.deepEqual(await storage.rosters.get(domain, 'bob'), { version: 0, items: [] });
    assert.equal(await storage.rosters.setItem(domain, 'bob', item('alice@example.net')), 1);
  });

  test('concurrent changes each get a distinct version', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const versions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => storage.rosters.setItem(domain, 'alice', item(`c${i}@example.net`))),
    );
    assert.deepEqual([...versions].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal((await storage.rosters.get(domain, 'alice')).items.length, 20);
  });

  test('groups round-trip in order, including none and unicode', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const items = [
      item('a@example.net', { groups: [] }),
      item('b@example.net', { groups: ['Zeta', 'Alpha', 'Friends & "Family"'] }),
      item('c@example.net', { groups: ['\u30c1\u30fc\u30e0', '<Ünïcode/>', ''] }),
    ];
    for (const i of items) await storage.rosters.setItem(domain, 'alice', i);
    assert.deepEqual(sortItems((await storage.rosters.get(domain, 'alice')).items), items);
  });

  test('subscription, askIn, askOut and approved round-trip', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const items: RosterItem[] = [];
    const subscriptions = ['none', 'to', 'from', 'both'] as const;
    for (let flags = 0; flags < 8; flags++) {
      items.push(
        item(`contact${flags}@example.net`, {
          subscription: subscriptions[flags % 4]!,
          askOut: (flags & 1) !== 0,
          askIn: (flags & 2) !== 0,
          approved: (flags & 4) !== 0,
          ...(flags % 2 === 0 ? { name: `Contact ${flags}` } : {}),
        }),
      );
    }
    for (const i of items) await storage.rosters.setItem(domain, 'alice', i);
    const stored = sortItems((await storage.rosters.get(domain, 'alice')).items);
    assert.deepEqual(stored, items);
    for (const i of items) assert.deepEqual(await storage.rosters.getItem(domain, 'alice', i.jid), i);
  });

  test('rosters are isolated per user and domain', async (t) => {
    const storage = await openFor(t);
    const first = freshDomain();
    const second = freshDomain();
    await storage.rosters.setItem(first, 'alice', item('bob@example.net'));
    assert.deepEqual(await storage.rosters.get(second, 'alice'), { version: 0, items: [] });
    assert.deepEqual(await storage.rosters.get(first, 'bob'), { version: 0, items: [] });
    assert.equal(await storage.rosters.removeItem(second, 'alice', 'bob@example.net'), undefined);
  });
}

function sortItems(items: RosterItem[]): RosterItem[] {
  return [...items].sort((a, b) => byCodePoint(a.jid, b.jid));
}

/** A quota that only limits the number of messages. */
function quota(maxMessages: number, more: Partial<OfflineQuota> = {}): OfflineQuota {
  return { maxMessages, maxBytes: 1 << 30, maxPerSender: 1 << 30, ...more };
}

/** Every stored message of a user, oldest first, removed as a client that took them all would. */
async function takeAll(storage: Storage, domain: string, username: string): Promise<OfflineMessage[]> {
  const messages = await storage.offline.peek(domain, username, 1_000_000, Number.MAX_SAFE_INTEGER);
  await storage.offline.remove(domain, username, messages.map((m) => m.id));
  return messages;
}

function offlineTests(openFor: OpenFor): void {
  test('peek returns messages in arrival order with their time without removing them; remove takes them out', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const before = Date.now();
    const stanzas = Array.from({ length: 12 }, (_, i) => `<message id="m${i}"><body>${i}</body></message>`);
    for (const stanza of stanzas) assert.equal(await storage.offline.push(domain, 'alice', stanza, 'bob@example.net', quota(100)), 'stored');
    const afterPush = Date.now();
    assert.equal(await storage.offline.count(domain, 'alice'), 12);

    const firstFive = await storage.offline.peek(domain, 'alice', 5, 1 << 20);
    assert.deepEqual(firstFive.map((m) => m.stanza), stanzas.slice(0, 5));
    assert.equal(await storage.offline.count(domain, 'alice'), 12);
    assert.equal(await storage.offline.remove(domain, 'alice', firstFive.map((m) => m.id)), 5);
    assert.equal(await storage.offline.remove(domain, 'alice', firstFive.map((m) => m.id)), 0, 'removing twice removes nothing');

    const rest = await takeAll(storage, domain, 'alice');
    assert.deepEqual(rest.map((m) => m.stanza), stanzas.slice(5));
    for (const m of [...firstFive, ...rest]) assert.ok(m.storedAt >= before && m.storedAt <= afterPush, `storedAt ${m.storedAt}`);
    assert.deepEqual(await storage.offline.peek(domain, 'alice', 10, 1 << 20), []);
    assert.equal(await storage.offline.count(domain, 'alice'), 0);
  });

  test('a message stored late with an earlier arrival position takes its place', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const base = Date.now() * 1000;
    await storage.offline.push(domain, 'alice', '<third/>', 'bob@example.net', quota(10), base + 3);
    await storage.offline.push(domain, 'alice', '<first/>', 'bob@example.net', quota(10), base + 1);
    await storage.offline.push(domain, 'alice', '<second/>', 'bob@example.net', quota(10), base + 2);
    assert.deepEqual((await takeAll(storage, domain, 'alice')).map((m) => m.stanza), ['<first/>', '<second/>', '<third/>']);
  });

  test('peek stops at the byte budget but always returns the first message', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const big = `<message><body>${'\u00e9'.repeat(3000)}</body></message>`;
    for (let i = 0; i < 4; i++) await storage.offline.push(domain, 'alice', big, 'bob@example.net', quota(100));
    const bytes = Buffer.byteLength(big);
    assert.equal((await storage.offline.peek(domain, 'alice', 10, bytes * 2)).length, 2, 'UTF-8 bytes are counted, not characters');
    assert.equal((await storage.offline.peek(domain, 'alice', 10, bytes * 2 - 1)).length, 1);
    assert.equal((await storage.offline.peek(domain, 'alice', 10, 10)).length, 1);
  });

  test('a full quota refuses the message and stores nothing', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    for (let i = 0; i < 3; i++) assert.equal(await storage.offline.push(domain, 'alice', `<m${i}/>`, 'bob@example.net', quota(3)), 'stored');
    assert.equal(await storage.offline.push(domain, 'alice', '<over/>', 'bob@example.net', quota(3)), 'mailbox-full');
    assert.equal(await storage.offline.count(domain, 'alice'), 3);
    assert.equal(await storage.offline.push(domain, 'bob', '<m/>', 'alice@example.net', quota(0)), 'mailbox-full');
    assert.equal(await storage.offline.count(domain, 'bob'), 0);

    const messages = await takeAll(storage, domain, 'alice');
    assert.deepEqual(messages.map((m) => m.stanza), ['<m0/>', '<m1/>', '<m2/>']);
    assert.equal(await storage.offline.push(domain, 'alice', '<again/>', 'bob@example.net', quota(3)), 'stored');
  });

  test('the byte quota counts UTF-8 bytes of every stored message', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const stanza = `<m>${'\u{1f600}'.repeat(25)}</m>`; // 106 bytes
    const limits = quota(100, { maxBytes: 250 });
    assert.equal(await storage.offline.push(domain, 'alice', stanza, 'bob@example.net', limits), 'stored');
    assert.equal(await storage.offline.push(domain, 'alice', stanza, 'bob@example.net', limits), 'stored');
    assert.equal(await storage.offline.push(domain, 'alice', stanza, 'bob@example.net', limits), 'mailbox-full');
    assert.equal(await storage.offline.push(domain, 'alice', '<small/>', 'bob@example.net', limits), 'stored');
  });

  test('one sender may fill only its share of a mailbox; others still get in', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const limits = quota(10, { maxPerSender: 3 });
    for (let i = 0; i < 3; i++) assert.equal(await storage.offline.push(domain, 'alice', `<m${i}/>`, 'mallory@example.net', limits), 'stored');
    assert.equal(await storage.offline.push(domain, 'alice', '<m3/>', 'mallory@example.net', limits), 'sender-limit');
    assert.equal(await storage.offline.push(domain, 'alice', '<hi/>', 'bob@example.net', limits), 'stored');
    assert.equal(await storage.offline.count(domain, 'alice'), 4);
    await takeAll(storage, domain, 'alice');
    assert.equal(await storage.offline.push(domain, 'alice', '<m4/>', 'mallory@example.net', limits), 'stored', 'delivered messages free the share');
  });

  test('concurrent pushes never exceed the quota', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => storage.offline.push(domain, 'alice', `<m${i}/>`, `s${i % 4}@example.net`, quota(7))),
    );
    assert.equal(results.filter((result) => result === 'stored').length, 7);
    assert.equal(await storage.offline.count(domain, 'alice'), 7);
    assert.equal((await takeAll(storage, domain, 'alice')).length, 7);
  });

  test('concurrent removals remove each message once', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    for (let i = 0; i < 10; i++) await storage.offline.push(domain, 'alice', `<m${i}/>`, 'bob@example.net', quota(100));
    const ids = (await storage.offline.peek(domain, 'alice', 100, 1 << 20)).map((m) => m.id);
    const removed = await Promise.all([1, 2, 3].map(() => storage.offline.remove(domain, 'alice', ids)));
    assert.equal(removed.reduce((a, b) => a + b, 0), 10);
    assert.equal(await storage.offline.count(domain, 'alice'), 0);
  });

  test('messages are kept per user and domain, byte for byte', async (t) => {
    const storage = await openFor(t);
    const first = freshDomain();
    const second = freshDomain();
    const stanza = `<message><body>h\u00e9llo \u{1f600} &amp; ${'x'.repeat(70000)}</body></message>`;
    await storage.offline.push(first, 'alice', stanza, 'carol@example.net', quota(5));
    await storage.offline.push(first, 'bob', '<b/>', 'carol@example.net', quota(5));
    assert.equal(await storage.offline.count(second, 'alice'), 0);
    assert.deepEqual(await storage.offline.peek(second, 'alice', 10, 1 << 20), []);
    assert.equal(await storage.offline.remove(second, 'bob', (await storage.offline.peek(first, 'bob', 10, 1 << 20)).map((m) => m.id)), 0, 'ids of another mailbox remove nothing');
    assert.equal(await storage.offline.count(first, 'bob'), 1);
    assert.deepEqual((await takeAll(storage, first, 'alice')).map((m) => m.stanza), [stanza]);
    assert.equal(await storage.offline.count(first, 'bob'), 1);
  });
}

function userDataTests(openFor: OpenFor): void {
  test('get, set, overwrite and delete', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    assert.equal(await storage.userData.get(domain, 'alice', 'vcard'), undefined);
    await storage.userData.set(domain, 'alice', 'vcard', '<vCard><FN>Alice</FN></vCard>');
    assert.equal(await storage.userData.get(domain, 'alice', 'vcard'), '<vCard><FN>Alice</FN></vCard>');
    await storage.userData.set(domain, 'alice', 'vcard', '');
    assert.equal(await storage.userData.get(domain, 'alice', 'vcard'), '');
    assert.equal(await storage.userData.delete(domain, 'alice', 'vcard'), true);
    assert.equal(await storage.userData.get(domain, 'alice', 'vcard'), undefined);
    assert.equal(await storage.userData.delete(domain, 'alice', 'vcard'), false);
  });

  test('keys are sorted and filtered by a literal prefix', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    const keys = ['private:b', 'private:a', 'vcard', 'Private:c', 'private_x', 'priv%te:d', 'blocklist'];
    for (const key of keys) await storage.userData.set(domain, 'alice', key, `value of ${key}`);
    assert.deepEqual(await storage.userData.keys(domain, 'alice'), [...keys].sort(byCodePoint));
    assert.deepEqual(await storage.userData.keys(domain, 'alice', 'private:'), ['private:a', 'private:b']);
    assert.deepEqual(await storage.userData.keys(domain, 'alice', 'priv%'), ['priv%te:d']);
    assert.deepEqual(await storage.userData.keys(domain, 'alice', 'private_'), ['private_x']);
    assert.deepEqual(await storage.userData.keys(domain, 'alice', 'nothing'), []);
    assert.deepEqual(await storage.userData.keys(domain, 'alice', ''), [...keys].sort(byCodePoint));
  });

  test('data is kept per user and domain', async (t) => {
    const storage = await openFor(t);
    const first = freshDomain();
    const second = freshDomain();
    await storage.userData.set(first, 'alice', 'vcard', 'first alice');
    await storage.userData.set(first, 'bob', 'vcard', 'first bob');
    await storage.userData.set(second, 'alice', 'vcard', 'second alice');
    assert.equal(await storage.userData.get(first, 'alice', 'vcard'), 'first alice');
    assert.equal(await storage.userData.get(second, 'alice', 'vcard'), 'second alice');
    assert.equal(await storage.userData.delete(first, 'alice', 'vcard'), true);
    assert.equal(await storage.userData.get(first, 'bob', 'vcard'), 'first bob');
    assert.deepEqual(await storage.userData.keys(second, 'alice'), ['vcard']);
  });
}

function serverDataTests(openFor: OpenFor): void {
  test('get, set, overwrite, and set only when absent', async (t) => {
    const storage = await openFor(t);
    const key = `secret-${randomUUID()}`;
    assert.equal(await storage.serverData.get(key), undefined);
    await storage.serverData.set(key, 'one');
    assert.equal(await storage.serverData.get(key), 'one');
    await storage.serverData.set(key, 'two \u{1f511}');
    assert.equal(await storage.serverData.get(key), 'two \u{1f511}');
    assert.equal(await storage.serverData.setIfAbsent(key, 'three'), 'two \u{1f511}', 'a value already there stays');
    assert.equal(await storage.serverData.setIfAbsent(`${key}-new`, 'four'), 'four');
  });

  test('take removes a key and gives its value to one of the callers racing for it', async (t) => {
    const storage = await openFor(t);
    const key = `token-${randomUUID()}`;
    assert.equal(await storage.serverData.take(key), undefined);
    await storage.serverData.set(key, 'once');
    const taken = await Promise.all([1, 2, 3].map(() => storage.serverData.take(key)));
    assert.deepEqual(taken.filter((value) => value !== undefined), ['once']);
    assert.equal(await storage.serverData.get(key), undefined);
  });

  test('keys lists the keys that start with a prefix, sorted, taking % and _ as themselves', async (t) => {
    const storage = await openFor(t);
    const prefix = `list-${randomUUID()}:`;
    for (const key of [`${prefix}b`, `${prefix}a`, `${prefix}%_`, `${prefix.toUpperCase()}c`]) await storage.serverData.set(key, 'x');
    assert.deepEqual(await storage.serverData.keys(prefix), [`${prefix}%_`, `${prefix}a`, `${prefix}b`]);
    assert.deepEqual(await storage.serverData.keys(`${prefix}%`), [`${prefix}%_`]);
    await storage.serverData.take(`${prefix}a`);
    assert.deepEqual(await storage.serverData.keys(prefix), [`${prefix}%_`, `${prefix}b`]);
  });

}

function abuseRuleTests(openFor: OpenFor): void {
  // The table is server-wide: each test uses values of its own and looks only at them.
  test('put adds, replaces the reason and time, and says whether the rule is new', async (t) => {
    const storage = await openFor(t);
    const domain = freshDomain();
    assert.equal(await storage.abuseRules.put({ kind: 'domain', value: domain, reason: 'spam', createdAt: 1000 }), true);
    assert.equal(await storage.abuseRules.put({ kind: 'domain', value: domain, reason: undefined, createdAt: 2000 }), false);
    const mine = (await storage.abuseRules.list('domain')).filter((rule) => rule.value === domain);
    assert.deepEqual(mine, [{ kind: 'domain', value: domain, reason: undefined, createdAt: 2000 }]);
  });

  test('kinds are kept apart, listed oldest first, and delete is false the second time', async (t) => {
    const storage = await openFor(t);
    const suffix = randomUUID().slice(0, 8);
    const first = `10.${parseInt(suffix.slice(0, 2), 16)}.${parseInt(suffix.slice(2, 4), 16)}.0/24`;
    const second = `2001:db8:${suffix.slice(0, 4)}::/48`;
    const base = Date.now();
    await storage.abuseRules.put({ kind: 'address', value: second, reason: 'later \u{1f6ab}', createdAt: base + 1 });
    await storage.abuseRules.put({ kind: 'address', value: first, reason: 'earlier', createdAt: base });
    const mine = (await storage.abuseRules.list('address')).filter((rule) => rule.value === first || rule.value === second);
    assert.deepEqual(mine.map((rule) => [rule.value, rule.reason]), [[first, 'earlier'], [second, 'later \u{1f6ab}']]);
    assert.ok(!(await storage.abuseRules.list('domain')).some((rule) => rule.value === first));
    assert.equal(await storage.abuseRules.delete('domain', first), false);
    assert.equal(await storage.abuseRules.delete('address', first), true);
    assert.equal(await storage.abuseRules.delete('address', first), false);
    assert.ok(!(await storage.abuseRules.list('address')).some((rule) => rule.value === first));
    await storage.abuseRules.delete('address', second);
  });
}
