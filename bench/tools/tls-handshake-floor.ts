/**
 * The floor under a login with TLS on this machine: a bare Node server that completes TLS 1.3
 * handshakes with the benchmarks' certificate (ECDSA P-256) and nothing else: no XML, no SASL, no
 * session. A client process makes `--handshakes` of them, `--concurrency` at a time, each one a
 * connection that is closed once the server's first byte arrives. Prints the server's CPU per
 * handshake and the client's (a load generator's side of the same handshake), after the first
 * `--warmup` handshakes. `--groups` limits the key exchange (an OpenSSL list such as `X25519`;
 * Node 24 otherwise agrees on the hybrid `X25519MLKEM768`).
 *
 *   node bench/tools/tls-handshake-floor.ts [--handshakes 2000] [--concurrency 8] [--warmup 200] [--groups X25519]
 *
 * Loopback only (127.0.0.1, port 53200).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect, createSecureContext, TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { benchCertificate } from '../load/tls-mode.ts';

const PORT = 53200;

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'client' },
    handshakes: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '200' },
    groups: { type: 'string' },
  },
});
const handshakes = Number(values.handshakes);
const concurrency = Number(values.concurrency);
const warmup = Number(values.warmup);
if (!(Number.isInteger(handshakes) && handshakes >= 1 && handshakes <= 100_000)) fail('--handshakes is a count from 1 to 100000');
if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256)) fail('--concurrency is a count from 1 to 256');
if (!(Number.isInteger(warmup) && warmup >= 0 && warmup <= 10_000)) fail('--warmup is a count from 0 to 10000');

/** CPU time of this process in ms (user + system). */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** The server: answers each handshake with one byte; reports its CPU at the client's request. */
function server(): void {
  const files = benchCertificate('bench.local');
  const context = createSecureContext({
    cert: readFileSync(files.certificate),
    key: readFileSync(files.key),
    minVersion: 'TLSv1.3',
    ...(values.groups ? { ecdhCurve: values.groups } : {}),
  });
  const listener = createServer((plain) => {
    plain.setNoDelay(true);
    // As an XMPP server does after STARTTLS: the TLS socket wraps the accepted TCP socket.
    const socket = new TLSSocket(plain, { isServer: true, secureContext: context });
    socket.on('error', () => socket.destroy());
    socket.on('secure', () => socket.write('x'));
    socket.on('data', () => {});
  });
  listener.listen(PORT, '127.0.0.1', () => process.send?.({ ready: true }));
  process.on('message', () => process.send?.({ cpuMs: cpuMs() }));
}

async function client(): Promise<void> {
  const serverProcess = fork(new URL(import.meta.url), ['--role', 'server', ...(values.groups ? ['--groups', values.groups] : [])]);
  try {
    const messages: Array<{ ready?: boolean; cpuMs?: number }> = [];
    let notify: () => void = () => {};
    serverProcess.on('message', (message: { ready?: boolean; cpuMs?: number }) => {
      messages.push(message);
      notify();
    });
    const nextMessage = async () => {
      while (messages.length === 0) await new Promise<void>((resolve) => (notify = resolve));
      return messages.shift()!;
    };
    await nextMessage();
    const serverCpu = async () => {
      serverProcess.send('cpu');
      return (await nextMessage()).cpuMs!;
    };
    let started = 0;
    let finished = 0;
    let group = '';
    const run = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const target = started + count;
        const one = () => {
          if (started >= target) {
            if (finished === target) resolve();
            return;
          }
          started++;
          const socket = connect({ host: '127.0.0.1', port: PORT, servername: 'bench.local', rejectUnauthorized: false });
          socket.once('data', () => {
            group ||= (socket.getEphemeralKeyInfo() as { name?: string } | null)?.name ?? '';
            socket.end();
          });
          socket.on('error', reject);
          socket.on('close', () => {
            finished++;
            one();
          });
        };
        for (let index = 0; index < concurrency; index++) one();
      });
    await run(warmup);
    const serverBefore = await serverCpu();
    const clientBefore = cpuMs();
    const start = process.hrtime.bigint();
    await run(handshakes);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const clientAfter = cpuMs();
    const serverAfter = await serverCpu();
    const perHandshake = (ms: number) => (ms / handshakes).toFixed(3);
    console.log(
      `${handshakes} TLS 1.3 handshakes (${group || 'key exchange unknown'}), ${concurrency} at a time: ${(handshakes / seconds).toFixed(0)}/s; ` +
        `server CPU ${perHandshake(serverAfter - serverBefore)} ms a handshake, client CPU ${perHandshake(clientAfter - clientBefore)} ms`,
    );
  } finally {
    serverProcess.kill();
  }
}

function fail(message: string): never {
  process.stderr.write(`tls-handshake-floor: ${message}\n`);
  process.exit(2);
}

if (values.role === 'server') server();
else await client();
