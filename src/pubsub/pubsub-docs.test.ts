/** docs/pubsub.md cannot drift: its example parses to what it says, and the defaults it lists are the defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultConfig, parseConfig } from '../config/load.ts';
import { serviceSpecs } from '../services/service-hosts.ts';

const DOC = readFileSync(new URL('../../docs/pubsub.md', import.meta.url), 'utf8');
const examples = [...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)];

test('the example: a renamed service on one host, none on the other', () => {
  assert.deepEqual(examples.map((match) => match[1]), ['service']);
  const config = parseConfig(examples[0]![2]!, { baseDir: '/srv/trellis' });
  const specs = config.hosts.flatMap((host) => serviceSpecs(host, config)).filter((spec) => spec.kind === 'pubsub');
  assert.deepEqual(specs, [{ kind: 'pubsub', parent: 'example.com', domain: 'feeds.example.com' }]);
  const com = config.hosts[0]!.pubsub;
  assert.equal(com.name, 'Example feeds');
  assert.equal(com.node_creation, 'host');
  assert.equal(com.max_nodes, 500);
});

test('the tables name the defaults', () => {
  const defaults = defaultConfig('/srv/trellis');
  for (const [section, values] of [['pep', defaults.pep], ['pubsub', defaults.pubsub]] as const) {
    for (const [key, value] of Object.entries(values)) {
      const row = new RegExp(`\\| \`${section}\\.${key}\` \\| \`?${String(value)}\`? \\|`);
      assert.match(DOC, row, `${section}.${key}`);
    }
  }
});
