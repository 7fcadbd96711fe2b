import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ParserLimits } from '../config/types.ts';
import { fuzzParameters } from '../../test/support/fuzz.ts';
import { Element, NS_CLIENT } from './element.ts';
import { HEADER, LIMITS, newParser, type Outcome } from './parser-fixtures.ts';
import { XmlStreamError, XmlStreamParser } from './parser.ts';
import { serialize } from './serialize.ts';
import { mutated, splitAt, xmlElement } from './xml-arbitraries.ts';

const CLOSE = '</stream:stream>';

/** Everything a parser reported, comparable across runs. */
function summary(outcome: Outcome): object {
  return {
    roots: outcome.roots,
    stanzas: outcome.stanzas,
    closes: outcome.closes,
    errors: outcome.errors.map((error) => `${error.condition}: ${error.message}`),
  };
}

function parse(chunks: Uint8Array[], limits?: Partial<ParserLimits>): Outcome {
  const outcome = newParser({ limits });
  for (const chunk of chunks) outcome.parser.write(chunk);
  return outcome;
}

/** A stream of generated stanzas, with whitespace keepalives between some of them. */
const validStream = fc
  .array(fc.tuple(xmlElement, fc.constantFrom('', ' ', '\n', '\r\n\t')), { maxLength: 4 })
  .map((items) => ({
    stanzas: items.map(([element]) => element),
    bytes: Buffer.from(HEADER + items.map(([element, space]) => serialize(element, NS_CLIENT) + space).join('') + CLOSE),
  }));

const cuts = fc.array(fc.nat(), { maxLength: 12 });

test('a valid stream gives back its stanzas, however it is split', () => {
  fc.assert(
    fc.property(validStream, cuts, ({ stanzas, bytes }, at) => {
      const outcome = parse(splitAt(bytes, at), { max_depth: 64 });
      assert.deepEqual(outcome.errors, []);
      assert.deepEqual(outcome.stanzas, stanzas);
      assert.equal(outcome.closes, 1);
    }),
    fuzzParameters(100),
  );
});

/** Hostile input: random bytes after a header, and near-misses of valid streams. */
const hostile = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.concat([Buffer.from(HEADER), bytes])),
  fc.uint8Array({ maxLength: 64 }),
  mutated(validStream.map(({ bytes }) => bytes)),
);

test('any input: no exception, at most one error, and the same outcome however it is split', () => {
  fc.assert(
    fc.property(hostile, cuts, (bytes, at) => {
      const whole = parse([bytes]);
      const split = parse(splitAt(bytes, at));
      assert.ok(whole.errors.length <= 1);
      for (const error of whole.errors) assert.ok(error instanceof XmlStreamError);
      assert.deepEqual(summary(split), summary(whole));
      // After the error, further input is ignored.
      if (whole.errors.length > 0) {
        const before = summary(whole);
        whole.parser.write(Buffer.from('<presence/></stream:stream>'));
        assert.deepEqual(summary(whole), before);
      }
    }),
    fuzzParameters(300),
  );
});

function depthOf(element: Element): number {
  let deepest = 0;
  for (const child of element.elements()) deepest = Math.max(deepest, depthOf(child));
  return deepest + 1;
}

function checkWithin(element: Element, limits: ParserLimits): void {
  assert.ok(Object.keys(element.attrs).length <= limits.max_attributes, 'max_attributes');
  for (const value of Object.values(element.attrs)) assert.ok(Buffer.byteLength(value) <= limits.max_attribute_bytes, 'max_attribute_bytes');
  for (const child of element.children) {
    if (typeof child === 'string') assert.ok(Buffer.byteLength(child) <= limits.max_text_bytes, 'max_text_bytes');
    else checkWithin(child, limits);
  }
}

const smallLimits = fc.record({
  max_stanza_bytes: fc.integer({ min: 1, max: 400 }),
  max_depth: fc.integer({ min: 1, max: 6 }),
  max_attributes: fc.integer({ min: 0, max: 4 }),
  max_attribute_bytes: fc.integer({ min: 0, max: 16 }),
  max_text_bytes: fc.integer({ min: 0, max: 16 }),
});

test('with any limits, every stanza delivered is within them, and one over is policy-violation', () => {
  fc.assert(
    fc.property(fc.array(xmlElement, { minLength: 1, maxLength: 3 }), smallLimits, cuts, (elements, limits, at) => {
      const serialized = elements.map((element) => serialize(element, NS_CLIENT));
      const bytes = Buffer.from(HEADER + serialized.join('') + CLOSE);
      const outcome = parse(splitAt(bytes, at), limits);
      outcome.stanzas.forEach((stanza, index) => {
        assert.ok(Buffer.byteLength(serialized[index]!) <= limits.max_stanza_bytes, 'max_stanza_bytes');
        assert.ok(depthOf(stanza) <= limits.max_depth, 'max_depth');
        checkWithin(stanza, limits);
        assert.ok(withinModel(elements[index]!, limits), 'attributes as written');
      });
      if (outcome.stanzas.length < elements.length) {
        assert.equal(outcome.errors[0]?.condition, 'policy-violation');
        const refused = elements[outcome.stanzas.length]!;
        // The first stanza refused breaks a limit: its size, depth, or a count the model shows.
        const breaks =
          Buffer.byteLength(serialized[outcome.stanzas.length]!) > limits.max_stanza_bytes ||
          depthOf(refused) > limits.max_depth ||
          !withinModel(refused, limits);
        assert.ok(breaks, `refused ${serialized[outcome.stanzas.length]}: ${outcome.errors[0]?.message}`);
      } else assert.deepEqual(outcome.errors, []);
    }),
    fuzzParameters(300),
  );
});

/**
 * Whether texts and the attributes of every start tag as written are within the limits:
 * namespace declarations count as attributes (the xmlns of a changed namespace, the generated
 * prefix of each {namespace}local key).
 */
function withinModel(element: Element, limits: ParserLimits, parentNs: string = NS_CLIENT): boolean {
  const written = Object.entries(element.attrs).flatMap(([key, value]) => (key.startsWith('{') ? [key.slice(1, key.lastIndexOf('}')), value] : [value]));
  if (element.xmlns !== parentNs) written.push(element.xmlns);
  if (written.length > limits.max_attributes) return false;
  if (written.some((value) => Buffer.byteLength(value) > limits.max_attribute_bytes)) return false;
  return element.children.every((child) =>
    typeof child === 'string' ? Buffer.byteLength(child) <= limits.max_text_bytes : withinModel(child, limits, element.xmlns),
  );
}

/** A parser that restarts (as after STARTTLS or SASL) when a stanza named `restart` ends. */
function parseRestarting(chunks: Uint8Array[], limits?: Partial<ParserLimits>): Outcome {
  const outcome: Outcome = { roots: [], declarations: [], stanzas: [], closes: 0, whitespace: 0, errors: [], parser: undefined!, handlers: undefined! };
  const parser = new XmlStreamParser(
    {
      streamOpen: (root) => outcome.roots.push(root),
      stanza: (element) => {
        outcome.stanzas.push(element);
        if (element.name === 'restart') parser.reset();
      },
      streamClose: () => outcome.closes++,
      error: (error) => outcome.errors.push(error),
    },
    { limits: { ...LIMITS, ...limits } },
  );
  outcome.parser = parser;
  for (const chunk of chunks) parser.write(chunk);
  return outcome;
}

const RESTART = "<restart xmlns='urn:test'/>";
const restartingStreams = fc.array(fc.array(fc.oneof(xmlElement.map((element) => serialize(element, NS_CLIENT)), fc.constant(' ')), { maxLength: 3 }), {
  minLength: 1,
  maxLength: 3,
});
const restartingStream = restartingStreams.map((streams) =>
  Buffer.from(streams.map((items) => `<?xml version='1.0'?>${HEADER}${items.join('')}`).join(RESTART) + CLOSE),
);

test('restarts inside a chunk: each new stream header is read, however the input is split', () => {
  fc.assert(
    fc.property(restartingStreams, cuts, (streams, at) => {
      const bytes = Buffer.from(streams.map((items) => `<?xml version='1.0'?>${HEADER}${items.join('')}`).join(RESTART) + CLOSE);
      const outcome = parseRestarting(splitAt(bytes, at), { max_depth: 64 });
      assert.deepEqual(outcome.errors, []);
      assert.equal(outcome.roots.length, streams.length);
      assert.equal(outcome.closes, 1);
    }),
    fuzzParameters(100),
  );
});

test('restarts inside a chunk: the same outcome however the streams are split, and near-misses of them too', () => {
  fc.assert(
    fc.property(fc.oneof(restartingStream, mutated(restartingStream)), cuts, smallLimits, (bytes, at, limits) => {
      for (const chosen of [{ max_depth: 64 }, limits]) {
        const whole = parseRestarting([bytes], chosen);
        const split = parseRestarting(splitAt(bytes, at), chosen);
        assert.deepEqual(summary(split), summary(whole));
        assert.ok(whole.errors.length <= 1);
      }
    }),
    fuzzParameters(200),
  );
});
