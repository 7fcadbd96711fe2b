/**
 * The `trellis` command as an operator runs it: `bin/trellis` with arguments, and a server
 * started by `trellis start` in the background, with the addresses it logged.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestServer } from './server.ts';

export const TRELLIS = new URL('../../bin/trellis', import.meta.url).pathname;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function trellis(args: string[], options: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(TRELLIS, args, { cwd: options.cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** A server run by `trellis start --config FILE`. */
export class Daemon {
  readonly child: ChildProcess;
  #output = '';
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the server and resolves once it logged that it is ready (the admin API listens by then). */
  static async start(configFile: string, options: { cwd?: string } = {}): Promise<Daemon> {
    const daemon = new Daemon(spawn(TRELLIS, ['start', ...(configFile ? ['--config', configFile] : [])], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await daemon.waitForOutput(/\bready\b/, 30_000);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return daemon;
  }

  output(): string {
    return this.#output;
  }

  /** The port a listener logged, e.g. "listening for clients (STARTTLS)". */
  port(listener: string): number {
    const escaped = listener.replace(/[()]/g, (char) => `\\${char}`);
    const match = new RegExp(`${escaped} address=[^\\s]*:(\\d+)`).exec(this.#output);
    if (!match) throw new Error(`no "${listener}" in the server output:\n${this.#output}`);
    return Number(match[1]);
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.#output);
      if (match) return match;
      if (this.child.exitCode !== null) throw new Error(`trellis start exited with ${this.child.exitCode}:\n${this.#output}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the server output:\n${this.#output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** SIGTERM, then SIGKILL if it has not stopped within 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs `trellis` against a test server, found as an operator's would be: by the data_dir of a configuration file. */
export function trellisFor(server: TestServer, args: readonly string[]): Promise<Run> {
  const configFile = join(server.dataDir, 'cli.yaml');
  writeFileSync(configFile, `data_dir: ${server.dataDir}\nhosts:\n  cli.test: {}\n`);
  return new Promise((resolve) => {
    execFile(TRELLIS, [...args, '--config', configFile], { timeout: 30_000, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
