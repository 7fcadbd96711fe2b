/**
 * A real XMPP client in a child process, driven by JSON lines: commands on its stdin, events on
 * its stdout (see test/clients/im_driver.py for the protocol). Each command gets an `id` and
 * resolves with its `result` event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface DriverEvent {
  event: string;
  [field: string]: unknown;
}

export interface CommandResult extends DriverEvent {
  ok: boolean;
  error?: { condition: string; type: string; text: string };
}

export interface ClientDriver {
  /** the full JID the client bound */
  jid: string;
  /** every event so far, in order */
  events: DriverEvent[];
  /** Sends a command and resolves with its result, whether ok or not. */
  command(command: Record<string, unknown>, timeoutMs?: number): Promise<CommandResult>;
  /** Like `command`, failing unless the result is ok. */
  ok(command: Record<string, unknown>, timeoutMs?: number): Promise<CommandResult>;
  /** Resolves with the first event matching, not returned by an earlier wait. */
  waitEvent(predicate: (event: DriverEvent) => boolean, timeoutMs?: number): Promise<DriverEvent>;
  /** Fails when an event matching arrives within the time. */
  expectNoEvent(predicate: (event: DriverEvent) => boolean, withinMs: number): Promise<void>;
  /** Closes the stream the client's way and waits for the process to end. */
  disconnect(): Promise<void>;
  /** Kills the process if it is still running. */
  stop(): void;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startDriver(label: string, executable: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ClientDriver> {
  const child = spawn(executable, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  const events: DriverEvent[] = [];
  const taken = new Set<DriverEvent>();
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let event: DriverEvent;
    try {
      event = JSON.parse(line) as DriverEvent;
    } catch {
      stderr += `\n[stdout] ${line}`;
      return;
    }
    events.push(event);
    for (const wake of [...waiters]) wake();
  });
  void exited.then(() => {
    for (const wake of [...waiters]) wake();
  });

  const describe = () => `${label}: events ${JSON.stringify(events.slice(-15))}\nstderr: ${stderr.slice(-1500)}`;

  function waitEvent(predicate: (event: DriverEvent) => boolean, timeoutMs = 5000): Promise<DriverEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find((event) => !taken.has(event) && predicate(event));
        if (found !== undefined) {
          taken.add(found);
          finish();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          finish();
          reject(new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before the awaited event; ${describe()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${label}: no awaited event within ${timeoutMs} ms (${predicate.toString()}); ${describe()}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  let nextId = 1;
  async function command(request: Record<string, unknown>, timeoutMs = 8000): Promise<CommandResult> {
    const id = nextId++;
    child.stdin.write(JSON.stringify({ ...request, id }) + '\n');
    return (await waitEvent((event) => event.event === 'result' && event.id === id, timeoutMs)) as CommandResult;
  }

  const driver: ClientDriver = {
    jid: '',
    events,
    command,
    async ok(cmd, timeoutMs) {
      const result = await command(cmd, timeoutMs);
      if (!result.ok) throw new Error(`${label}: ${JSON.stringify(cmd)} failed: ${JSON.stringify(result.error)}`);
      return result;
    },
    waitEvent,
    async expectNoEvent(predicate, withinMs) {
      await new Promise((resolve) => setTimeout(resolve, withinMs));
      const found = events.find((event) => !taken.has(event) && predicate(event));
      if (found !== undefined) throw new Error(`${label}: unexpected event ${JSON.stringify(found)}`);
    },
    async disconnect() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.write(JSON.stringify({ op: 'disconnect' }) + '\n');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };

  try {
    const started = await waitEvent((event) => event.event === 'session_start' || event.event === 'failed_auth' || event.event === 'login_failed', 15_000);
    if (started.event !== 'session_start') throw new Error(`${label}: login failed ${JSON.stringify(started)}; stderr: ${stderr.slice(-1500)}`);
    driver.jid = String(started.jid);
  } catch (error) {
    driver.stop();
    throw error;
  }
  return driver;
}
