/** Messages between the scenario (parent) and a load generator process (bench/load/generator-process.ts), over the IPC channel. */
import type { BenchMechanism } from './bench-client.ts';
import type { TrafficOptions, TrafficPhases, TrafficResult } from './messaging-traffic.ts';

export interface GeneratorSetup extends TrafficOptions {
  address: string;
  port: number;
  domain: string;
  usernames: string[];
  password: string;
  resource: string;
  mechanism: BenchMechanism;
  /** logins running at the same time */
  loginConcurrency: number;
  loginTimeoutMs: number;
}

export type ToGenerator =
  | { type: 'setup'; setup: GeneratorSetup }
  | { type: 'run'; phases: TrafficPhases }
  | { type: 'close' };

export type FromGenerator =
  | { type: 'ready'; clients: number; loginMillis: number }
  | { type: 'result'; result: TrafficResult }
  | { type: 'closed' }
  | { type: 'failed'; message: string };
