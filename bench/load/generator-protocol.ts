/** Messages between the scenario (parent) and a load generator process (bench/load/generator-process.ts), over the IPC channel. */
import type { ClientProtocol } from '../servers/registry.ts';
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
  /** XMPP login, or the relay's one-line hello (bench/servers/relay-server.ts) */
  protocol: ClientProtocol;
  /** logins running at the same time */
  loginConcurrency: number;
  loginTimeoutMs: number;
}

export type ToGenerator =
  /** untimed: each account's first SCRAM exchange only, to cache its SaltedPassword */
  | { type: 'prime'; setup: GeneratorSetup }
  | { type: 'setup'; setup: GeneratorSetup }
  | { type: 'run'; phases: TrafficPhases }
  | { type: 'count' }
  | { type: 'close' };

export type FromGenerator =
  | { type: 'primed'; derivations: number; primeMillis: number }
  /** derivations: PBKDF2 runs during the login (0 when every SaltedPassword was cached) */
  | { type: 'ready'; clients: number; loginMillis: number; derivations: number }
  | { type: 'result'; result: TrafficResult }
  | { type: 'counted'; connected: number }
  | { type: 'closed' }
  | { type: 'failed'; message: string };
