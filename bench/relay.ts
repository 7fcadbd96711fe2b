/**
 * The raw limit: the messaging scenario against the trivial TCP relay (bench/servers/relay-server.ts),
 * which forwards each client's bytes to its peer with no XML work, driven by the same generator.
 *
 *   npm run bench -- relay [messaging options]      # the same as: npm run bench -- messaging --servers relay
 *
 * Add `--servers trellis,prosody,ejabberd,relay` to see it next to the XMPP servers in one run.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const args = process.argv.slice(2);
const withServers = args.some((arg) => arg === '--servers' || arg.startsWith('--servers=')) ? args : ['--servers', 'relay', ...args];
const result = spawnSync(process.execPath, [join(import.meta.dirname, 'messaging.ts'), ...withServers], { stdio: 'inherit' });
process.exit(result.status ?? 1);
