import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, parseIpAddress, parseIpRange, rangeContains } from './ip-range.ts';

describe('parseIpAddress', () => {
  const cases: [string, string | undefined][] = [
    ['192.0.2.1', '4 192.0.2.1'],
    ['0.0.0.0', '4 0.0.0.0'],
    ['255.255.255.255', '4 255.255.255.255'],
    ['256.0.0.1', undefined],
    ['1.2.3', undefined],
    ['01.2.3.4', undefined],
    ['1.2.3.4.5', undefined],
    ['::1', '6 ::1'],
    ['::', '6 ::'],
    ['2001:DB8::A', '6 2001:db8::a'],
    ['2001:db8:0:0:1:0:0:1', '6 2001:db8::1:0:0:1'],
    ['2001:db8:1:2:3:4:5:6', '6 2001:db8:1:2:3:4:5:6'],
    ['fe80::1%eth0', '6 fe80::1'],
    ['::ffff:192.0.2.7', '4 192.0.2.7'],
    ['::FFFF:c000:0207', '4 192.0.2.7'],
    ['0:0:0:0:0:ffff:192.0.2.7', '4 192.0.2.7'],
    ['64:ff9b::192.0.2.7', '6 64:ff9b::c000:207'],
    ['1::2::3', undefined],
    ['1:2:3:4:5:6:7', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2:3:4::5:6:7:8', undefined],
    ['12345::', undefined],
    ['1.2.3.4::', undefined],
    ['::1.2.3.4:5', undefined],
    [':1', undefined],
    ['g::1', undefined],
    ['example.com', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} → ${expected ?? 'not an address'}`, () => {
      const parsed = parseIpAddress(text);
      assert.equal(parsed && `${parsed.family} ${formatIp(parsed)}`, expected);
    });
  }
});

describe('parseIpRange', () => {
  const ranges: [string, string, string[], string[]][] = [
    ['10.0.0.0/8', 'v4', ['10.0.0.0', '10.255.255.255', '::ffff:10.1.2.3'], ['11.0.0.0', '9.255.255.255', '::a01:203']],
    ['192.0.2.7', 'v4', ['192.0.2.7', '::ffff:192.0.2.7'], ['192.0.2.8']],
    ['0.0.0.0/0', 'v4', ['1.2.3.4', '::ffff:1.2.3.4'], ['::1', '2001:db8::1']],
    ['2001:db8::/32', 'v6', ['2001:db8::1', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'], ['2001:db9::', '32.1.13.184']],
    ['::/0', 'v6', ['::1', 'fe80::1%lo'], ['127.0.0.1', '::ffff:127.0.0.1']],
    ['::1', 'v6', ['::1', '0:0:0:0:0:0:0:1'], ['::2']],
    ['::ffff:10.0.0.0/104', 'v4 written as mapped IPv6', ['10.9.9.9', '::ffff:10.9.9.9'], ['11.0.0.1']],
    ['::ffff:0:0/96', 'all of IPv4', ['1.1.1.1', '255.255.255.255'], ['::1']],
  ];
  for (const [rule, what, inside, outside] of ranges) {
    test(`${rule} (${what}) holds ${inside.join(', ')} and not ${outside.join(', ')}`, () => {
      const range = parseIpRange(rule);
      for (const address of inside) assert.ok(rangeContains(range, parseIpAddress(address)!), address);
      for (const address of outside) assert.ok(!rangeContains(range, parseIpAddress(address)!), address);
    });
  }

  const invalid: [string, RegExp][] = [
    ['10.0.0.0/33', /prefix length must be a number from 0 to 32 for IPv4/],
    ['2001:db8::/129', /from 0 to 128 for IPv6/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.1.0.0/8', /bits are set beyond the \/8 prefix; the range is 10\.0\.0\.0\/8/],
    ['2001:db8::1/32', /the range is 2001:db8::\/32/],
    ['fe80::1%eth0', /zone index/],
    ['example.com', /expected an IPv4 or IPv6 address/],
    ['10.0.0.0/8/8', /prefix length/],
  ];
  for (const [rule, message] of invalid) {
    test(`${rule} is refused`, () => assert.throws(() => parseIpRange(rule), message));
  }
});

test('formatIp compresses the longest zero run only when it is two groups or more (RFC 5952 section 4.2)', () => {
  assert.equal(formatIp({ family: 6, value: 0x2001_0db8_0000_0001_0001_0001_0001_0001n }), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIp({ family: 6, value: 0x2001_0000_0000_0001_0000_0000_0000_0001n }), '2001:0:0:1::1');
  assert.equal(formatIp({ family: 6, value: 0n }), '::');
});
