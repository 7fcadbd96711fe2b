/** docs/archive.md cannot drift: its example parses to what the page says, and the defaults it leans on are the defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig, parseConfig } from '../../config/load.ts';
import { RESULT_BYTES } from './send-results.ts';

const DOC = readFileSync(new URL('../../../docs/archive.md', import.meta.url), 'utf8');

test('retention: top-level keys reach every host, a host overrides its own, a host may turn the module off', () => {
  const yaml = /```yaml\n# example: retention\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(yaml, 'docs/archive.md has the retention example');
  const [com, org, net] = parseConfig(yaml, { baseDir: '/srv/trellis' }).hosts;
  assert.deepEqual(com!.mam, { ...defaultConfig('/srv/trellis').mam, default: 'roster', max_age_days: 90, max_messages: 20000 });
  assert.equal(org!.mam.max_age_days, 0);
  assert.equal(org!.mam.max_messages, 1_000_000);
  assert.equal(org!.mam.rooms, false);
  assert.equal(org!.mam.default, 'roster');
  assert.ok(net!.modules_disabled.includes('mam'));
  assert.equal(net!.mam.rooms, true, 'rooms are archived by default');
});

test('the byte limit of a page is the one the page names', () => {
  assert.match(DOC, new RegExp(`never more than ${RESULT_BYTES / 1024} KiB of archived messages`));
});
