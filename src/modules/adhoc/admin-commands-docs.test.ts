/** docs/admin-commands.md cannot drift: its example parses as it says, and its table names the commands served. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../config/load.ts';
import type { ModuleContext } from '../context.ts';
import { adminCommands, FORM_TYPE_ADMIN } from './admin-commands.ts';
import { MAX_INVITES_PER_ACCOUNT } from '../register/invites.ts';

const DOC = readFileSync(new URL('../../../docs/admin-commands.md', import.meta.url), 'utf8');

test('the example: the top-level admins administer every host, a host adds its own', () => {
  const yaml = /```yaml\n# example: admins\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(yaml, 'docs/admin-commands.md has the example');
  const [com, org] = parseConfig(yaml, { baseDir: '/srv/trellis' }).hosts;
  assert.deepEqual(com!.admins, ['root@example.com']);
  assert.deepEqual(org!.admins, ['root@example.com', 'boss@example.org']);
});

test('the motd example: a host may turn the top-level message off', () => {
  const yaml = /```yaml\n# example: motd\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(yaml, 'docs/admin-commands.md has the example');
  const [com, org] = parseConfig(yaml, { baseDir: '/srv/trellis' }).hosts;
  assert.match(com!.motd.text, /^Maintenance on Sunday/);
  assert.equal(org!.motd.text, '');
});

test('the user invites example: accounts of the host invite contacts who may also register', () => {
  const yaml = /```yaml\n# example: user invites\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(yaml, 'docs/admin-commands.md has the example');
  const [com] = parseConfig(yaml, { baseDir: '/srv/trellis' }).hosts;
  assert.equal(com!.registration.user_invites, 'account');
  assert.equal(com!.registration.invite_days, 14);
  assert.match(DOC, new RegExp(`at most ${MAX_INVITES_PER_ACCOUNT} unused invitations`));
});

test('the table names every command, in the order the server lists them', () => {
  const served = adminCommands({ host: { domain: 'example.com' } } as unknown as ModuleContext).map((command) => command.node.replace(`${FORM_TYPE_ADMIN}#`, ''));
  const table = [...DOC.matchAll(/^\| `([a-z:#-]+)` \|/gm)].map((match) => match[1]);
  assert.deepEqual(table, served);
});
