/**
 * Clients that come and go during a soak: at a fixed rate, a client logs in with a fresh
 * resource, sends one message to its own full JID, waits for it, and leaves. Every step is
 * counted, so a login that failed, a message that never came back or a connection the server
 * dropped shows in the totals. At most `maxInFlight` such clients exist at once; the loop ends
 * at `untilMillis` (performance.now()).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchClient, type LoginOptions } from './bench-client.ts';

export interface ChurnOptions extends Omit<LoginOptions, 'username' | 'resource'> {
  usernames: string[];
  perSecond: number;
  maxInFlight: number;
  /** how long one client waits for its own message */
  echoTimeoutMs: number;
}

export interface ChurnTotals {
  started: number;
  loggedIn: number;
  echoed: number;
  loginFailures: number;
  /** a message sent that did not come back within echoTimeoutMs */
  lost: number;
  /** the first few failures, for the report */
  failures: string[];
  /** cycles not started because maxInFlight clients were still busy */
  skipped: number;
}

const KEPT_FAILURES = 10;

export async function runChurn(options: ChurnOptions, untilMillis: number): Promise<ChurnTotals> {
  const totals: ChurnTotals = { started: 0, loggedIn: 0, echoed: 0, loginFailures: 0, lost: 0, failures: [], skipped: 0 };
  const inFlight = new Set<Promise<void>>();
  const intervalMs = 1000 / options.perSecond;
  let next = performance.now();
  while (performance.now() < untilMillis) {
    if (inFlight.size >= options.maxInFlight) {
      totals.skipped++;
    } else {
      const cycle = oneClient(options, totals.started++, totals).finally(() => inFlight.delete(cycle));
      inFlight.add(cycle);
    }
    next += intervalMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(inFlight);
  return totals;
}

async function oneClient(options: ChurnOptions, index: number, totals: ChurnTotals): Promise<void> {
  const username = options.usernames[index % options.usernames.length]!;
  let client: BenchClient;
  try {
    client = await BenchClient.login({ ...options, username, resource: `churn-${index}` });
  } catch (error) {
    totals.loginFailures++;
    note(totals, `login of ${username}/churn-${index}: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  totals.loggedIn++;
  const body = `churn ${index}`;
  try {
    const echoed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), options.echoTimeoutMs);
      let seen = '';
      client.takeIncoming((text) => {
        // keep only a tail long enough to hold the body across two chunks
        seen = (seen + text).slice(-4096);
        if (!seen.includes(`<body>${body}</body>`)) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
    client.queue(`<message type='chat' to='${client.fullJid}'><body>${body}</body></message>`);
    if (await echoed) totals.echoed++;
    else {
      totals.lost++;
      note(totals, `${client.fullJid}: its message did not come back within ${options.echoTimeoutMs} ms${client.closedBecause ? ` (${client.closedBecause.message})` : ''}`);
    }
  } finally {
    await client.close().catch(() => client.socket.destroy());
  }
}

function note(totals: ChurnTotals, failure: string): void {
  if (totals.failures.length < KEPT_FAILURES) totals.failures.push(failure);
}
