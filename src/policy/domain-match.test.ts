import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainMatcher, parseDomainPattern, patternCovers, type DomainEntry, type DomainScope } from './domain-match.ts';

const entry = (written: string, at: string, scope?: DomainScope): DomainEntry<string> => {
  const parsed = parseDomainPattern(written);
  return { pattern: scope ? { ...parsed, scope } : parsed, at, written, value: at };
};

describe('domain patterns', () => {
  const cases: [written: string, scope: DomainScope | undefined, domain: string, covers: boolean][] = [
    ['example.com', undefined, 'example.com', true],
    ['example.com', undefined, 'EXAMPLE.com', true],
    ['example.com', undefined, 'chat.example.com', false],
    ['*.example.com', undefined, 'chat.example.com', true],
    ['*.example.com', undefined, 'a.b.example.com', true],
    ['*.example.com', undefined, 'example.com', false],
    ['*.example.com', undefined, 'badexample.com', false],
    ['example.com', 'domain-and-subdomains', 'example.com', true],
    ['example.com', 'domain-and-subdomains', 'muc.example.com', true],
    ['example.com', 'domain-and-subdomains', 'notexample.com', false],
  ];
  for (const [written, scope, domain, covers] of cases) {
    test(`${written}${scope ? ` (${scope})` : ''} ${covers ? 'covers' : 'does not cover'} ${domain}`, () => {
      const parsed = parseDomainPattern(written);
      assert.equal(patternCovers(scope ? { ...parsed, scope } : parsed, domain), covers);
    });
  }
});

describe('the most specific entry wins', () => {
  const matcher = new DomainMatcher(
    [
      entry('*.example.com', 'wide'),
      entry('lab.example.com', 'lab-tree', 'domain-and-subdomains'),
      entry('*.deep.lab.example.com', 'deep'),
      entry('bank.example.com', 'bank'),
      entry('bank.example.com', 'bank-again'),
      entry('*.example.com', 'wide-again'),
    ],
    entry('', 'default'),
  );
  const cases: [domain: string, at: string][] = [
    ['bank.example.com', 'bank'],
    ['chat.example.com', 'wide'],
    ['lab.example.com', 'lab-tree'],
    ['x.lab.example.com', 'lab-tree'],
    ['x.deep.lab.example.com', 'deep'],
    ['deep.lab.example.com', 'lab-tree'],
    ['example.com', 'default'],
    ['other.net', 'default'],
  ];
  for (const [domain, at] of cases) test(`${domain}: ${at}`, () => assert.equal(matcher.match(domain)?.at, at));

  test('covers: any entry but the default', () => {
    assert.equal(matcher.covers('chat.example.com'), true);
    assert.equal(matcher.covers('other.net'), false);
    assert.equal(new DomainMatcher([]).match('x.example'), undefined);
  });
});
