/**
 * How the lab and the benchmarks run Debian's ejabberd 23.01: as root straight from `erl` rather
 * than through ejabberdctl (which switches to the ejabberd user and shares the system epmd), with
 * no Erlang distribution, and its configuration, Mnesia spool, log and crash dump in one scratch
 * directory. Configuration reference: https://docs.ejabberd.im/admin/configuration/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian installs ejabberd's OTP applications here. */
export const EJABBERD_LIBS = '/usr/lib/x86_64-linux-gnu';

export interface EjabberdErlOptions {
  /** the scratch directory; the Mnesia spool is made in it */
  dir: string;
  configFile: string;
  logFile: string;
  /** flags put before the others: emulator flags such as `+Q 262144`, application parameters such as `-kernel …` */
  erlFlags?: string[];
  /** terms of an inetrc file (ERTS "Inet Configuration"), e.g. `{nameserver, {127,0,0,53}, 53}` */
  inetrc?: string[];
}

export interface EjabberdCommand {
  command: string;
  args: string[];
  options: { cwd: string; outputFile: string; env: NodeJS.ProcessEnv };
}

/** Makes the spool (and inetrc) and returns the command that starts ejabberd in the foreground. */
export function prepareEjabberdErl(options: EjabberdErlOptions): EjabberdCommand {
  const { dir } = options;
  mkdirSync(join(dir, 'spool'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    ERL_LIBS: EJABBERD_LIBS,
    ERL_CRASH_DUMP: join(dir, 'erl_crash.dump'),
    EJABBERD_CONFIG_PATH: options.configFile,
    EJABBERD_LOG_PATH: options.logFile,
  };
  if (options.inetrc !== undefined) {
    env.ERL_INETRC = join(dir, 'inetrc');
    writeFileSync(env.ERL_INETRC, options.inetrc.map((term) => `${term}.\n`).join(''));
  }
  return {
    command: 'erl',
    args: [...(options.erlFlags ?? []), '-noinput', '-noshell', '-mnesia', 'dir', JSON.stringify(join(dir, 'spool')), '-s', 'ejabberd'],
    options: { cwd: dir, outputFile: join(dir, 'erl.out'), env },
  };
}

/** An Erlang tuple for an IPv4 address, as inetrc's `nameserver` takes it. */
export function erlangIpv4(address: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new Error(`not an IPv4 address: ${address}`);
  return `{${address.split('.').join(',')}}`;
}
