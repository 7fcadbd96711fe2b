/**
 * The floor under a presence broadcast on this machine: a bare Node server that writes one
 * presence-sized text to each of N connected sockets when asked, and nothing else (no XML, no
 * routing, no storage), beside a reader that holds the N sockets in one process as the presence
 * benchmark's does. It times, over `--changes` requests, until the last socket has its copy, and
 * the server's CPU per request. `--threads 2` splits the sockets between the main thread and a
 * worker that owns its half (its own listener), both writing at once: what spreading a
 * broadcast's writes over threads could give at best. `--write-callback` passes each write a
 * callback of its own, as a server does that must learn when each socket took its copy.
 *
 *   node bench/tools/fan-out-floor.ts [--sockets 999] [--changes 40] [--threads 1] [--tls] [--write-callback]
 *
 * Loopback only (127.0.0.1, ports 53000 and up).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { benchCertificate } from '../load/tls-mode.ts';

const BASE_PORT = 53000;
const CONTROL_PORT = 53100;
/** about the size of the presence benchmark's copies */
const COPY = `<presence from='owner@localhost/bench' to='c1@localhost' xml:lang='en'><status>change 0000001, with some text</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://trellis.example/caps' ver='abcdefghijklmnopqrstuvwxyz0='/></presence>`;

interface ServerSettings {
  threads: number;
  tls: boolean;
  writeCallback: boolean;
  port: number;
}

/** The server's part, in the main thread or a worker: accept, and write one copy to every socket per request. */
function serve({ tls, writeCallback, port }: ServerSettings, ready: () => void): () => void {
  let context: SecureContext | undefined;
  if (tls) {
    const files = benchCertificate('bench.local');
    context = createSecureContext({ cert: readFileSync(files.certificate), key: readFileSync(files.key), minVersion: 'TLSv1.3' });
  }
  const sockets: Socket[] = [];
  const listener = createServer((plain) => {
    plain.setNoDelay(true);
    const socket = context ? new TLSSocket(plain, { isServer: true, secureContext: context }) : plain;
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {});
    sockets.push(socket);
  });
  listener.listen(port, '127.0.0.1', ready);
  let written = 0;
  return writeCallback
    ? () => {
        for (const socket of sockets) {
          socket.write(COPY, (error) => {
            if (!error) written++;
          });
        }
      }
    : () => {
        for (const socket of sockets) socket.write(COPY);
      };
}

function serverProcess(settings: ServerSettings): void {
  const broadcast = serve(settings, () => {});
  const workers = Array.from({ length: settings.threads - 1 }, (_, index) => new Worker(new URL(import.meta.url), { workerData: { ...settings, port: BASE_PORT + 1 + index } }));
  void Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('message', resolve)))).then(() => {
    const control = createServer((socket) => {
      socket.on('data', () => {
        for (const worker of workers) worker.postMessage('go');
        broadcast();
      });
    });
    control.listen(CONTROL_PORT, '127.0.0.1', () => process.send?.('ready'));
  });
}

/** Server CPU time in ms (user + system) from /proc. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function reader(options: { sockets: number; changes: number; threads: number; tls: boolean; writeCallback: boolean }): Promise<void> {
  const flags = [...(options.tls ? ['--tls'] : []), ...(options.writeCallback ? ['--write-callback'] : [])];
  const server = fork(new URL(import.meta.url), ['--role', 'server', '--threads', String(options.threads), ...flags]);
  try {
    await new Promise((resolve) => server.once('message', resolve));
    let waiting = 0;
    let allThere: () => void = () => {};
    const sockets: Socket[] = [];
    for (let index = 0; index < options.sockets; index += 50) {
      const batch = Array.from({ length: Math.min(50, options.sockets - index) }, (_, offset) => {
        const port = BASE_PORT + ((index + offset) % options.threads);
        return new Promise<void>((resolve) => {
          const socket = options.tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, resolve) : tcpConnect(port, '127.0.0.1', resolve);
          socket.on('data', () => {
            if (--waiting === 0) allThere();
          });
          sockets.push(socket);
        });
      });
      await Promise.all(batch);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const control = tcpConnect(CONTROL_PORT, '127.0.0.1');
    await new Promise((resolve) => control.once('connect', resolve));
    const times: number[] = [];
    let cpuBefore = 0;
    // The first request warms up and is not counted.
    for (let change = 0; change <= options.changes; change++) {
      if (change === 1) cpuBefore = cpuMs(server.pid!);
      waiting = options.sockets;
      const done = new Promise<void>((resolve) => (allThere = resolve));
      const start = process.hrtime.bigint();
      control.write('x');
      await done;
      if (change > 0) times.push(Number(process.hrtime.bigint() - start) / 1e6);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cpuPerChange = (cpuMs(server.pid!) - cpuBefore) / options.changes;
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1]!;
    const callbacks = options.writeCallback ? ', a callback per write' : '';
    console.log(`${options.sockets} sockets, ${options.threads} thread(s), ${options.tls ? 'TLS' : 'plain TCP'}${callbacks}: all reached in ${median.toFixed(2)} ms (median of ${options.changes}; ${times[0]!.toFixed(2)}-${times.at(-1)!.toFixed(2)}), server CPU ${cpuPerChange.toFixed(1)} ms a change`);
    for (const socket of sockets) socket.destroy();
    control.destroy();
  } finally {
    server.kill();
  }
}

if (!isMainThread) {
  const broadcast = serve(workerData as ServerSettings, () => parentPort!.postMessage('ready'));
  parentPort!.on('message', broadcast);
} else {
  const { values } = parseArgs({
    options: {
      role: { type: 'string', default: 'reader' },
      sockets: { type: 'string', default: '999' },
      changes: { type: 'string', default: '40' },
      threads: { type: 'string', default: '1' },
      tls: { type: 'boolean', default: false },
      'write-callback': { type: 'boolean', default: false },
    },
  });
  const threads = Number(values.threads);
  const writeCallback = values['write-callback'];
  if (values.role === 'server') serverProcess({ threads, tls: values.tls, writeCallback, port: BASE_PORT });
  else await reader({ sockets: Number(values.sockets), changes: Number(values.changes), threads, tls: values.tls, writeCallback });
}
