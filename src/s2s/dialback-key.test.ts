import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { dialbackKey, dialbackKeyMatches } from './dialback-key.ts';

/** XEP-0185 section 3 and XEP-0220 examples 1 and 5 */
const VECTORS = [
  {
    secret: 's3cr3tf0rd14lb4ck',
    receiving: 'xmpp.example.com',
    originating: 'example.org',
    streamId: 'D60000229F',
    key: '37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643',
  },
  {
    secret: 's3cr3tf0rd14lb4ck',
    receiving: 'montague.example',
    originating: 'capulet.example',
    streamId: 'D60000229F',
    key: 'b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3',
  },
  {
    secret: 'd14lb4ck43v3r',
    receiving: 'capulet.example',
    originating: 'montague.example',
    streamId: '417GAF25',
    key: '225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d',
  },
];

describe('dialback keys (XEP-0185)', () => {
  for (const vector of VECTORS) {
    test(`reproduces the published key for ${vector.receiving} ← ${vector.originating}`, () => {
      assert.equal(dialbackKey(vector.secret, vector.receiving, vector.originating, vector.streamId), vector.key);
    });
  }

  test('the digest of the secret is used as hex text, not raw bytes', () => {
    const digest = createHash('sha256').update('s3cr3tf0rd14lb4ck').digest();
    assert.equal(digest.toString('hex'), 'a7136eb1f46c9ef18c5e78c36ca257067c69b3d518285f0b18a96c33beae9acc');
    for (const vector of VECTORS) {
      const rawKeyed = createHmac('sha256', createHash('sha256').update(vector.secret).digest())
        .update(`${vector.receiving} ${vector.originating} ${vector.streamId}`)
        .digest('hex');
      assert.notEqual(rawKeyed, vector.key, 'the raw-bytes construction must not match the vectors');
    }
  });

  test('every input changes the key', () => {
    const base = dialbackKey('secret', 'a.example', 'b.example', 'id1');
    assert.notEqual(dialbackKey('other', 'a.example', 'b.example', 'id1'), base);
    assert.notEqual(dialbackKey('secret', 'b.example', 'a.example', 'id1'), base);
    assert.notEqual(dialbackKey('secret', 'a.example', 'b.example', 'id2'), base);
  });

  test('a received key matches after trimming surrounding whitespace', () => {
    const { secret, receiving, originating, streamId, key } = VECTORS[1]!;
    assert.equal(dialbackKeyMatches(key, secret, receiving, originating, streamId), true);
    assert.equal(dialbackKeyMatches(`\n    ${key}\n  `, secret, receiving, originating, streamId), true);
  });

  test('a wrong, truncated, empty or differently scoped key does not match', () => {
    const { secret, receiving, originating, streamId, key } = VECTORS[1]!;
    const flipped = key.slice(0, -1) + (key.endsWith('3') ? '4' : '3');
    assert.equal(dialbackKeyMatches(flipped, secret, receiving, originating, streamId), false);
    assert.equal(dialbackKeyMatches(key.slice(0, 32), secret, receiving, originating, streamId), false);
    assert.equal(dialbackKeyMatches('', secret, receiving, originating, streamId), false);
    assert.equal(dialbackKeyMatches(key, secret, receiving, originating, 'another-stream'), false);
    assert.equal(dialbackKeyMatches(key, 'another secret', receiving, originating, streamId), false);
  });
});
