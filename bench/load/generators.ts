/**
 * Starts and drives load generator processes (bench/load/generator-process.ts). The clients are
 * split into contiguous slices, one per process, each slice messaging in its own ring, so every
 * latency is measured by the process that both sent and received the message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { FromGenerator, GeneratorSetup, ToGenerator } from './generator-protocol.ts';
import type { TrafficPhases, TrafficResult } from './messaging-traffic.ts';

const GENERATOR = join(import.meta.dirname, 'generator-process.ts');

export class GeneratorPool {
  readonly #children: ChildProcess[];

  private constructor(children: ChildProcess[]) {
    this.#children = children;
  }

  /**
   * Forks `count` generators and logs their clients in; returns once every client is ready.
   * With `prime`, an untimed first pass caches every account's SaltedPassword first (the timed
   * logins then run no PBKDF2), and `beforeLogin` runs between the two passes.
   */
  static async start(
    count: number,
    setup: GeneratorSetup,
    options: { prime?: boolean; beforeLogin?: () => void } = {},
  ): Promise<{ pool: GeneratorPool; loginMillis: number; primeMillis: number; loginDerivations: number }> {
    const slices = splitEvenly(setup.usernames, count);
    const children = slices.map(() => fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const pool = new GeneratorPool(children);
    try {
      const timeout = setup.loginTimeoutMs * Math.ceil(setup.usernames.length / setup.loginConcurrency) + 10_000;
      const setupOf = (index: number): GeneratorSetup => ({ ...setup, usernames: slices[index]! });
      let primeMillis = 0;
      if (options.prime) {
        const primed = await Promise.all(children.map((child, index) => ask(child, { type: 'prime', setup: setupOf(index) }, 'primed', timeout)));
        primeMillis = Math.max(...primed.map((message) => message.primeMillis));
      }
      options.beforeLogin?.();
      const ready = await Promise.all(children.map((child, index) => ask(child, { type: 'setup', setup: setupOf(index) }, 'ready', timeout)));
      return {
        pool,
        loginMillis: Math.max(...ready.map((message) => message.loginMillis)),
        primeMillis,
        loginDerivations: ready.reduce((sum, message) => sum + message.derivations, 0),
      };
    } catch (error) {
      pool.kill();
      throw error;
    }
  }

  async run(phases: TrafficPhases): Promise<TrafficResult[]> {
    const timeout = phases.warmupMs + phases.measureMs + phases.drainMs + 10_000;
    const replies = await Promise.all(this.#children.map((child) => ask(child, { type: 'run', phases }, 'result', timeout)));
    return replies.map((reply) => reply.result);
  }

  /** How many clients are still connected, over all processes. */
  async connected(): Promise<number> {
    const replies = await Promise.all(this.#children.map((child) => ask(child, { type: 'count' }, 'counted', 10_000)));
    return replies.reduce((sum, reply) => sum + reply.connected, 0);
  }

  /** Closes every stream politely, then lets the processes exit. */
  async close(): Promise<void> {
    try {
      await Promise.all(this.#children.map((child) => ask(child, { type: 'close' }, 'closed', 10_000)));
    } finally {
      this.kill();
    }
  }

  kill(): void {
    for (const child of this.#children) {
      if (child.connected) child.disconnect();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

function splitEvenly<T>(items: T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, part) => items.slice(Math.floor((part * items.length) / parts), Math.floor(((part + 1) * items.length) / parts)));
}

/** Sends a request and waits for the reply of the expected type, a failure, an exit or the timeout. */
function ask<T extends FromGenerator['type']>(child: ChildProcess, message: ToGenerator, expected: T, timeoutMs: number): Promise<Extract<FromGenerator, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (reply: FromGenerator): void => {
      if (reply.type === expected) {
        done();
        resolve(reply as Extract<FromGenerator, { type: T }>);
      } else if (reply.type === 'failed') {
        done();
        reject(new Error(`load generator ${child.pid}: ${reply.message}`));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`load generator ${child.pid} exited (${signal ?? code}) while waiting for "${expected}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`load generator ${child.pid}: no "${expected}" within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message);
  });
}
