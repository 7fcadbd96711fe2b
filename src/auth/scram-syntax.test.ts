import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBase64, decodeSaslName, encodeSaslName, parseAttributes, parseIterationCount, ScramSyntaxError } from './scram-syntax.ts';

test('saslname escapes round-trip', () => {
  for (const name of ['user', 'a,b', 'a=b', '=,=', 'caf\u00e9']) assert.equal(decodeSaslName(encodeSaslName(name)), name);
  assert.equal(encodeSaslName('a,b=c'), 'a=2Cb=3Dc');
});

test('saslname rejects other escapes', () => {
  for (const bad of ['a=2c', 'a=41', 'a=', 'a=2', '']) assert.throws(() => decodeSaslName(bad), ScramSyntaxError, bad);
});

test('attributes', () => {
  assert.deepEqual(parseAttributes('r=abc,s=x=='), [{ name: 'r', value: 'abc' }, { name: 's', value: 'x==' }]);
  assert.throws(() => parseAttributes('r=abc,,s=x'), ScramSyntaxError);
  assert.throws(() => parseAttributes('rr=abc'), ScramSyntaxError);
});

test('strict base64', () => {
  assert.deepEqual(decodeBase64('biws', 'c'), Buffer.from('n,,'));
  for (const bad of ['biw', 'bi=s', 'b!ws', 'biws=']) assert.throws(() => decodeBase64(bad, 'c'), ScramSyntaxError, bad);
});

test('iteration counts', () => {
  assert.equal(parseIterationCount('4096'), 4096);
  for (const bad of ['0', '-1', '01', '1e3', '', '99999999999']) assert.throws(() => parseIterationCount(bad), ScramSyntaxError, bad);
});
