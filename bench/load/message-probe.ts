/**
 * The latency of a message between two clients while a server holds many other sessions: two
 * more clients log in, and one sends the other `count` messages one at a time, each timed from
 * its send to its arrival (both ends in this process, on one clock).
 */
import { performance } from 'node:perf_hooks';
import { BenchClient, type LoginOptions } from './bench-client.ts';
import { LatencyHistogram } from './histogram.ts';

export interface ProbeLatency {
  messages: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function probeMessageLatency(login: Omit<LoginOptions, 'username'>, usernames: [string, string], count: number): Promise<ProbeLatency> {
  const [sender, receiver] = await Promise.all(usernames.map((username) => BenchClient.login({ ...login, username })));
  try {
    const histogram = new LatencyHistogram();
    let arrived: (() => void) | undefined;
    let seen = '';
    receiver!.takeIncoming((text) => {
      seen += text;
      const end = seen.lastIndexOf('</message>');
      if (end < 0) return;
      seen = seen.slice(end + '</message>'.length);
      arrived?.();
    });
    for (let index = 0; index < count; index++) {
      const delivered = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`probe message ${index} did not arrive within ${login.timeoutMs} ms`)), login.timeoutMs);
        arrived = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      const sentAt = performance.now();
      sender!.queue(`<message type='chat' to='${receiver!.fullJid}'><body>probe ${index}</body></message>`);
      await delivered;
      histogram.recordMillis(performance.now() - sentAt);
    }
    return { messages: count, p50Ms: histogram.percentileMillis(0.5), p99Ms: histogram.percentileMillis(0.99), maxMs: histogram.maxMillis() };
  } finally {
    await Promise.all([sender!.close(), receiver!.close()]);
  }
}
