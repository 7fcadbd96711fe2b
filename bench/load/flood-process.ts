/**
 * One flood, in a process of its own so that its writing and reading do not run on the event
 * loop that times the other users' round trips (bench/flood.ts). It logs in a sender and a
 * receiver, checks one message gets through (for a remote sender this also sets up the server
 * link), and on `start` writes messages to the receiver as fast as the sender's socket takes
 * them: a 16 KB chunk of identical stanzas at a time, the next one once the socket has drained.
 *
 * On `stop` it works out what the sender's server actually read: the bytes handed to the kernel
 * (socket.bytesWritten less what Node still buffers) less what still waits in the kernel, in the
 * sender's send queue and the server's receive queue (`ss`, Send-Q and Recv-Q). A server that
 * reads slowly leaves megabytes there, which the sender's own count would include. Then it cuts
 * the sender's connection (whatever the server has not read yet is dropped with it) and keeps
 * counting what reaches the receiver for `drainMs`.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchClient } from './bench-client.ts';

export interface FloodEnd {
  address: string;
  port: number;
  domain: string;
  username: string;
}

export interface FloodSetup {
  sender: FloodEnd;
  receiver: FloodEnd;
  password: string;
  bodyBytes: number;
  /** the flood stops after this many stanzas even if the time is not up */
  maxStanzas: number;
  drainMs: number;
}

export interface FloodReport {
  stanzaBytes: number;
  floodMillis: number;
  /** stanzas the sender's server read from its socket during the flood */
  stanzasRead: number;
  bytesRead: number;
  /** bytes handed to the kernel, read by the server or not */
  bytesHandedToKernel: number;
  /** bytes written but not read by the server when the flood stopped */
  bytesUnread: number;
  /** stanzas that reached the receiver during the flood, and until the end of the drain */
  deliveredDuringFlood: number;
  deliveredByDrainEnd: number;
  /** messages that came back to the sender (error bounces) */
  bouncedToSender: number;
  /** the error condition of the first bounce, if any */
  firstBounceCondition?: string;
  /** when the server closed the sender's stream, seconds into the flood, and its stream error */
  senderClosedAfterSeconds?: number;
  senderStreamError?: string;
  hitMaxStanzas: boolean;
  cpuUserMicros: number;
  cpuSystemMicros: number;
}

export type ToFlood = { type: 'setup'; setup: FloodSetup } | { type: 'start' } | { type: 'stop' } | { type: 'close' };
export type FromFlood = { type: 'ready' } | { type: 'started' } | { type: 'report'; report: FloodReport } | { type: 'closed' } | { type: 'failed'; message: string };

const MESSAGE_END = '</message>';
const CHUNK_BYTES = 16 * 1024;
const FIRST_MESSAGE_TIMEOUT_MS = 20_000;

let setup: FloodSetup | undefined;
let sender: BenchClient | undefined;
let receiver: BenchClient | undefined;
let received = 0;
let bounced = 0;
let streamError: string | undefined;
let firstBounceCondition: string | undefined;
let senderClosedAt: number | undefined;
let stopped = false;
let wake: (() => void) | undefined;
let flooding: Promise<{ stanzas: number; hitMax: boolean }> | undefined;
let startedAt = 0;
let cpuAtStart: NodeJS.CpuUsage | undefined;
let deliveredAtStart = 0;

function reply(message: FromFlood): void {
  process.send?.(message);
}

/** Counts `</message>` end tags across chunks. */
function counter(onCount: (count: number, text: string) => void): (text: string) => void {
  let tail = '';
  return (text) => {
    const scanned = tail + text;
    let count = 0;
    for (let at = scanned.indexOf(MESSAGE_END); at >= 0; at = scanned.indexOf(MESSAGE_END, at + MESSAGE_END.length)) count++;
    tail = scanned.slice(-(MESSAGE_END.length - 1));
    onCount(count, scanned);
  };
}

async function setUp(options: FloodSetup): Promise<void> {
  setup = options;
  const login = (end: FloodEnd, resource: string) =>
    BenchClient.login({ ...end, password: options.password, resource, mechanism: 'SCRAM-SHA-1', timeoutMs: 30_000 });
  receiver = await login(options.receiver, 'flood-in');
  sender = await login(options.sender, 'flood-out');
  receiver.takeIncoming(counter((count) => (received += count)));
  sender.takeIncoming(
    counter((count, text) => {
      bounced += count;
      if (count > 0 && firstBounceCondition === undefined) {
        const error = /<error[^>]*>\s*<([a-z-]+)[^>]*\/>(?:\s*<text[^>]*>([^<]*)<\/text>)?/.exec(text);
        firstBounceCondition = error?.[2] ? `${error[1]}: ${error[2]}` : error?.[1];
      }
      const at = text.indexOf('<stream:error');
      if (streamError === undefined && at >= 0) streamError = text.slice(at, at + 300);
    }),
  );
  sender.socket.on('drain', () => wake?.());
  sender.socket.on('close', () => {
    if (!stopped && startedAt > 0) senderClosedAt = performance.now();
    wake?.();
  });
  // One message first: the path works (and a server link, for a remote sender, is up).
  sender.queue(`<message to='${receiverJid()}' type='chat'><body>first</body></message>`);
  const deadline = performance.now() + FIRST_MESSAGE_TIMEOUT_MS;
  while (received === 0) {
    if (performance.now() > deadline) throw new Error(`${sender.fullJid} -> ${receiverJid()}: the first message did not arrive within ${FIRST_MESSAGE_TIMEOUT_MS} ms`);
    if (sender.closedBecause ?? receiver.closedBecause) throw sender.closedBecause ?? receiver.closedBecause!;
    await sleep(20);
  }
  received = 0;
  bounced = 0;
}

function receiverJid(): string {
  return `${setup!.receiver.username}@${setup!.receiver.domain}`;
}

function stanza(): string {
  return `<message to='${receiverJid()}' type='chat'><body>${'x'.repeat(setup!.bodyBytes)}</body></message>`;
}

async function flood(): Promise<{ stanzas: number; hitMax: boolean }> {
  const one = stanza();
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / one.length));
  const chunk = Buffer.from(one.repeat(perChunk));
  const socket = sender!.socket;
  let stanzas = 0;
  while (!stopped && !sender!.closedBecause && !socket.destroyed) {
    if (stanzas + perChunk > setup!.maxStanzas) return { stanzas, hitMax: true };
    stanzas += perChunk;
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  }
  return { stanzas, hitMax: false };
}

/** Bytes still in the kernel between the sender and its server: the sender's Send-Q and the server's Recv-Q (ss(8)). */
function unreadInKernel(localPort: number): number {
  const lines = execFileSync('ss', ['-tnH', `( sport = :${localPort} or dport = :${localPort} )`], { encoding: 'utf8' }).split('\n');
  let bytes = 0;
  for (const line of lines) {
    const [, recvQ, sendQ, local, peer] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${localPort}`)) bytes += Number(sendQ);
    else if (peer?.endsWith(`:${localPort}`)) bytes += Number(recvQ);
  }
  return bytes;
}

async function stop(): Promise<FloodReport> {
  const socket = sender!.socket;
  const stanzaBytes = Buffer.byteLength(stanza());
  const stoppedAt = performance.now();
  const deliveredDuringFlood = received - deliveredAtStart;
  stopped = true;
  wake?.();
  const { hitMax } = await flooding!;
  const handed = socket.bytesWritten - socket.writableLength;
  const unread = socket.destroyed ? 0 : unreadInKernel(socket.localPort!);
  const cpu = process.cpuUsage(cpuAtStart);
  socket.destroy();
  await sleep(setup!.drainMs);
  const bytesRead = Math.max(0, handed - unread);
  return {
    stanzaBytes,
    floodMillis: stoppedAt - startedAt,
    stanzasRead: Math.floor(bytesRead / stanzaBytes),
    bytesRead,
    bytesHandedToKernel: handed,
    bytesUnread: unread,
    deliveredDuringFlood,
    deliveredByDrainEnd: received - deliveredAtStart,
    bouncedToSender: bounced,
    firstBounceCondition,
    senderClosedAfterSeconds: senderClosedAt === undefined ? undefined : (senderClosedAt - startedAt) / 1000,
    senderStreamError: streamError,
    hitMaxStanzas: hitMax,
    cpuUserMicros: cpu.user,
    cpuSystemMicros: cpu.system,
  };
}

async function handle(message: ToFlood): Promise<void> {
  switch (message.type) {
    case 'setup':
      await setUp(message.setup);
      reply({ type: 'ready' });
      return;
    case 'start':
      startedAt = performance.now();
      cpuAtStart = process.cpuUsage();
      deliveredAtStart = received;
      flooding = flood();
      reply({ type: 'started' });
      return;
    case 'stop':
      reply({ type: 'report', report: await stop() });
      return;
    case 'close':
      await receiver?.close();
      sender?.socket.destroy();
      reply({ type: 'closed' });
      return;
  }
}

process.on('message', (message: ToFlood) => {
  handle(message).catch((error: unknown) => {
    reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    sender?.socket.destroy();
    receiver?.socket.destroy();
  });
});
// The parent went away (finished, crashed or interrupted): nothing left to do.
process.on('disconnect', () => process.exit(0));
