/** docs/push.md cannot drift: its example parses to what the page says, and the defaults are the ones it names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig, parseConfig } from '../../config/load.ts';

const DOC = readFileSync(new URL('../../../docs/push.md', import.meta.url), 'utf8');

test('privacy: the sender for one host, the count alone for the other; both fields off by default', () => {
  const yaml = /```yaml\n# example: privacy\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(yaml, 'docs/push.md has the privacy example');
  const [com, org] = parseConfig(yaml, { baseDir: '/srv/trellis' }).hosts;
  assert.deepEqual(com!.push, { ...defaultConfig('/srv/trellis').push, include_sender: true });
  assert.equal(org!.push.include_sender, false);
  assert.equal(org!.push.include_body, false);
  const { push } = defaultConfig('/srv/trellis');
  assert.equal(push.include_sender, false);
  assert.equal(push.include_body, false);
  assert.match(DOC, /Both are off by default/);
});
