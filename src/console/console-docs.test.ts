/** docs/console.md cannot drift: its example parses to an enabled console, and the names and defaults it gives are the code's. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultConfig, parseConfig } from '../config/load.ts';
import { CONSOLE_PATH, SESSION_COOKIE } from './route.ts';

const DOC = readFileSync(new URL('../../docs/console.md', import.meta.url), 'utf8');

test('the example enables the console for one admin on the HTTPS listener', () => {
  const yaml = /```yaml\n# example: console\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(yaml, 'docs/console.md has the console example');
  // The certificate files are the operator's; the rest parses as written.
  const config = parseConfig(yaml.replace(/tls: \{ certificate: [^}]+\}/, '{}'), { baseDir: '/srv/trellis' });
  assert.deepEqual([config.http.enabled, config.http.tls, config.http.console.enabled, config.http.console.admins], [true, true, true, ['admin@example.com']]);
});

test('the path, cookie and defaults the page names are the ones in force', () => {
  assert.ok(DOC.includes(`at \`${CONSOLE_PATH}\``));
  assert.ok(DOC.includes(`\`${SESSION_COOKIE}\``));
  const { console } = defaultConfig('/srv/trellis').http;
  assert.equal(console.enabled, false);
  assert.match(DOC, /The console is off by default/);
  assert.match(DOC, new RegExp(`\`session_lifetime\` \\(${console.session_lifetime / 3600} hours by default\\)`));
  assert.match(DOC, new RegExp(`\`idle_timeout\` \\(${console.idle_timeout / 60} minutes\\)`));
});
