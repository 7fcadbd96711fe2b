/** docs/peering.md cannot drift: its example loads, does what the page says, and explains as shown. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import { explain, formatExplanation } from './explain.ts';
import { PolicySnapshot } from './snapshot.ts';

const DOC = readFileSync(new URL('../../docs/peering.md', import.meta.url), 'utf8');
const EXAMPLE = /```yaml\n# example: edge\n([\s\S]*?)```/.exec(DOC)![1]!;
const config = parseConfig(EXAMPLE, { baseDir: '/srv/trellis' });
const policy = new PolicySnapshot(config);
const hosted = (domain: string) => config.hosts.some((host) => host.domain === domain);

test('the edge example: routes, levels and access as the page says', () => {
  const via = (remote: string) => {
    const way = policy.route(remote);
    return way.kind === 'route' ? way.via : way.kind;
  };
  assert.deepEqual(via('partner.example'), { kind: 'address', host: '198.51.100.20', port: 5269 });
  assert.deepEqual(via('chat.partner.example'), { kind: 'address', host: '198.51.100.20', port: 5269 });
  assert.deepEqual(via('x.lab.example'), { kind: 'domain', domain: 'gateway.example' });
  assert.deepEqual(via('lab.example'), { kind: 'direct' });
  assert.equal(via('a.closed.example'), 'reject');
  assert.equal(policy.requirement('chat.partner.example').level, 'trusted');
  assert.equal(policy.connection({ domain: 'spam.example', direction: 'in' }).kind, 'close');
  assert.equal(policy.connection({ domain: 'muc.spam.example', direction: 'in' }).kind, 'continue', 'an exact rule covers the domain only');
});

test('the explain output on the page is what the command prints', () => {
  const shown = /\$ trellis policy explain --from alice@example.com --to chat.partner.example\n([\s\S]*?)```/.exec(DOC)![1]!;
  assert.equal(formatExplanation(explain(policy, hosted, 'alice@example.com', 'chat.partner.example')), shown);
});

test('explain: incoming, and neither or both domains hosted', () => {
  const incoming = explain(policy, hosted, 'x@spam.example', 'example.com');
  assert.equal(incoming.direction, 'in');
  assert.deepEqual(incoming.direction === 'in' && incoming.steps.map((step) => `${step.question} ${step.rule}`), [
    'connection s2s.peering["spam.example"].access',
    'level s2s.min_level',
    'pair s2s.peering["spam.example"].access',
  ]);
  assert.equal(explain(policy, hosted, 'a.example', 'b.example').direction, 'none');
  assert.equal(explain(policy, hosted, 'alice@example.com', 'example.com').direction, 'none');
});
