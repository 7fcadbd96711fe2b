/**
 * A constrained link: the first message over a fresh zero-handshake link (XEP-0361,
 * docs/links.md) against standard server-to-server federation opened by that message, over a
 * delaying relay (bench/links/delaying-relay.ts) between the two servers:
 *
 *   npm run bench -- links [--delay 600] [--rates 2400,64000] [--modes link,s2s-external,s2s-dialback]
 *
 * Two Trellis servers in this process: A hosts air.example on 127.0.22.43, B ground.example on
 * 127.0.22.44; everything between them crosses relays on 127.0.22.41 (A to B) and 127.0.22.42
 * (B to A, for dialback's verification). Clients connect directly. Modes:
 * - link: A's link connects out through the relay; the message is sent once it is connected;
 * - s2s-external: STARTTLS and SASL EXTERNAL with certificates from a throwaway CA;
 * - s2s-dialback: STARTTLS with self-signed certificates, then dialback (XEP-0220).
 * Prints the time from sending to delivery and the bytes the relays carried, with the target:
 * a link's first message within one one-way delay plus its transmission time, at least ten
 * times sooner than standard federation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestCa, writeCertificateFiles } from '../test/support/lab/ca.ts';
import { loginFederated, type FederatedServer } from '../test/support/federation.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { textTable } from './report/table.ts';
import { DelayingRelay, type LinkShape } from './links/delaying-relay.ts';

type Mode = 'link' | 's2s-external' | 's2s-dialback';

const { values } = parseArgs({ options: { delay: { type: 'string', default: '600' }, rates: { type: 'string', default: '2400,64000' }, modes: { type: 'string', default: 'link,s2s-external,s2s-dialback' } } });
const delayMs = Number(values.delay);
const rates = values.rates.split(',').map(Number);
const modes = values.modes.split(',') as Mode[];
const BODY = 'ETA 1420, fuel 40 percent, two passengers';

interface Run {
  ms: number;
  bytes: number;
}

async function certificates(mode: Mode, dir: string): Promise<{ a: string; b: string; ca: string }> {
  if (mode !== 's2s-external') return { a: '', b: '', ca: '' };
  const ca = await createTestCa();
  const tls = (domain: string, name: string) => {
    return ca.issue({ names: [domain], eku: 'server+client' }).then((pair) => {
      const { certFile, keyFile } = writeCertificateFiles(dir, name, pair);
      return ` tls: { certificate: "${certFile}", key: "${keyFile}" } `;
    });
  };
  const { certFile } = writeCertificateFiles(dir, 'ca', ca);
  return { a: await tls('air.example', 'air'), b: await tls('ground.example', 'ground'), ca: `  ca_files: ["${certFile}"]\n` };
}

interface ServerSpec {
  address: string;
  domain: string;
  /** the host's tls line, or '' for a generated self-signed certificate */
  hostTls: string;
  /** further s2s keys (ca_files) */
  s2s: string;
  /** the peering rule for the other server's domain */
  peering: string;
  links?: string;
}

function serverYaml(spec: ServerSpec): string {
  return `
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${spec.address}"], port: 0 }
http: { enabled: false }
log: { level: warn }
# the bench's clients answer no pings
c2s: { keepalive: { interval: 0 }, scram_iterations: 4096 }
s2s:
  use_system_ca: false
  connect_timeout: 60
  negotiation_timeout: 600
${spec.s2s}  peering:
    ${spec.peering}
${spec.links === undefined ? '' : `links:\n  ${spec.links}\n`}hosts:
  ${spec.domain}: {${spec.hostTls}}
`;
}

async function runOnce(mode: Mode, shape: LinkShape): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-links-'));
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  const relays: DelayingRelay[] = [];
  try {
    const certs = await certificates(mode, dir);
    const toA = await DelayingRelay.start('127.0.22.42', shape, () => ({ host: '127.0.22.43', port: a!.server.listening.s2s[0]!.port }));
    relays.push(toA);
    const side = { s2s: certs.ca };
    b = await startTestServer(
      mode === 'link'
        ? serverYaml({ ...side, address: '127.0.22.44', domain: 'ground.example', hostTls: '', peering: 'air.example: { link: sat }', links: 'sat: { connect: in, address: "127.0.22.44:0", peer_addresses: ["127.0.0.0/8"], local_domains: [ground.example], remote_domains: [air.example] }' })
        : serverYaml({ ...side, address: '127.0.22.44', domain: 'ground.example', hostTls: certs.b, peering: `air.example: { via: "${toA.address}" }` }),
    );
    const bLink = b.server.links.links.get('sat');
    const toB = await DelayingRelay.start('127.0.22.41', shape, () => {
      if (bLink) {
        const [host, port] = bLink.listening!.split(':');
        return { host: host!, port: Number(port) };
      }
      return { host: '127.0.22.44', port: b!.server.listening.s2s[0]!.port };
    });
    relays.push(toB);
    if (mode === 'link') {
      a = await startTestServer(serverYaml({ ...side, address: '127.0.22.43', domain: 'air.example', hostTls: '', peering: 'ground.example: { link: sat }', links: `sat: { connect: out, address: "${toB.address}", local_domains: [air.example], remote_domains: [ground.example] }` }));
      const link = a.server.links.links.get('sat')!;
      while (!link.up) await new Promise((resolve) => setTimeout(resolve, 5));
    } else {
      a = await startTestServer(serverYaml({ ...side, address: '127.0.22.43', domain: 'air.example', hostTls: certs.a, peering: `ground.example: { via: "${toB.address}" }` }));
    }
    await a.addUser('pilot', 'air.example', 'secret');
    await b.addUser('ops', 'ground.example', 'secret');
    const pilot = await loginFederated({ port: a.port, domain: 'air.example' } as FederatedServer, 'pilot');
    const ops = await loginFederated({ port: b.port, domain: 'ground.example' } as FederatedServer, 'ops');
    ops.send('<presence/>');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = toA.bytes + toB.bytes;
    const sent = performance.now();
    pilot.send(`<message id='first' to='ops@ground.example' type='chat'><body>${BODY}</body></message>`);
    await ops.waitFor(BODY, 600_000);
    const ms = performance.now() - sent;
    const bytes = toA.bytes + toB.bytes - before;
    pilot.close();
    ops.close();
    return { ms, bytes };
  } finally {
    for (const relay of relays) await relay.close();
    await a?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[][] = [];
for (const rate of rates) {
  const shape = { delayMs, rate };
  const results = new Map<Mode, Run>();
  for (const mode of modes) {
    const run = await runOnce(mode, shape);
    results.set(mode, run);
    console.error(`${mode} at ${rate} bit/s, ${delayMs} ms each way: ${(run.ms / 1000).toFixed(2)} s, ${run.bytes} bytes`);
  }
  const link = results.get('link');
  for (const [mode, run] of results) {
    rows.push([`${rate}`, mode, (run.ms / 1000).toFixed(2), `${run.bytes}`, link && mode !== 'link' ? `${(run.ms / link.ms).toFixed(1)}x` : '']);
  }
}
console.log(`first message over a fresh link, ${delayMs} ms one-way delay`);
console.log(textTable(['bit/s', 'mode', 'seconds to delivery', 'bytes on the wire', 'vs link'], rows));
