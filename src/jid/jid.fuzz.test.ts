import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParameters } from '../../test/support/fuzz.ts';
import { JidMalformedError, makeJid, parseJid, prepareDomain, prepareLocalpart, prepareResource } from './jid.ts';

/** Characters that matter to JID parsing and preparation, mixed with anything at all. */
const jidChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('@', '/', '.', '[', ']', ':', '-', ' ', '\u3002', '\uff0e', '\u00df', '\u03a3', '\u0301', '\u200d', '\ufb01', 'x', 'n--', 'xn--', '0', '9') },
  { weight: 3, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
);
const jidLike = fc.oneof(
  fc.string({ unit: jidChar, maxLength: 24 }),
  fc.tuple(fc.string({ unit: jidChar, maxLength: 8 }), fc.domain(), fc.string({ unit: jidChar, maxLength: 8 })).map(([l, d, r]) => `${l}@${d}/${r}`),
  fc.domain(),
  fc.emailAddress(),
  fc.ipV6().map((address) => `user@[${address}]`),
  fc.ipV4(),
);

function malformedOnly(error: unknown): void {
  if (!(error instanceof JidMalformedError)) throw error;
}

test('parseJid returns a prepared address or throws JidMalformedError, and is idempotent', () => {
  fc.assert(
    fc.property(jidLike, (input) => {
      let jid;
      try {
        jid = parseJid(input);
      } catch (error) {
        return malformedOnly(error);
      }
      const again = parseJid(jid.toString());
      assert.equal(again.toString(), jid.toString());
      assert.deepEqual([again.local, again.domain, again.resource], [jid.local, jid.domain, jid.resource]);
      assert.equal(makeJid(jid.local, jid.domain, jid.resource).toString(), jid.toString());
    }),
    fuzzParameters(500),
  );
});

test('each preparation is idempotent and throws nothing but JidMalformedError', () => {
  const part = fc.oneof(fc.string({ unit: jidChar, maxLength: 16 }), fc.domain());
  fc.assert(
    fc.property(part, (input) => {
      for (const prepare of [prepareLocalpart, prepareDomain, prepareResource]) {
        let prepared: string;
        try {
          prepared = prepare(input);
        } catch (error) {
          malformedOnly(error);
          continue;
        }
        assert.equal(prepare(prepared), prepared, `${prepare.name}(${JSON.stringify(input)})`);
      }
    }),
    fuzzParameters(500),
  );
});
