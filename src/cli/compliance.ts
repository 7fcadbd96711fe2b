/**
 * `trellis compliance JID`: logs in to the running server as JID, probes what it offers and
 * prints, for each XEP-0479 Advanced Server requirement of the Core, IM and Mobile categories,
 * whether it is met (docs/compliance.md). Exit code 1 when one is not.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListenerConfig, TrellisConfig } from '../config/types.ts';
import { parseJid } from '../jid/jid.ts';
import { probe, type Endpoint } from './compliance-probe.ts';
import { judge, resultTable } from './compliance-suite.ts';
import { readPassword } from './password.ts';

export async function compliance(config: TrellisConfig, input: string, password: string | undefined, json: boolean): Promise<number> {
  const jid = parseJid(input);
  if (!jid.local) throw new Error(`${input} is not an account: use user@domain`);
  const secret = password ?? (await readPassword(`Password for ${jid.local}@${jid.domain}: `, false));
  const listeners = config.listeners;
  const facts = await probe({
    jid: { local: jid.local, domain: jid.domain },
    password: secret,
    c2s: endpointOf(listeners.c2s)!,
    directTls: endpointOf(listeners.c2s_direct_tls),
    component: config.components.length > 0 ? endpointOf(listeners.component) : undefined,
    ca: await generatedCertificate(config, jid.domain),
  });
  const results = judge(facts);
  if (json) {
    const rows = results.map(({ requirement, ok, evidence }) => ({ category: requirement.category, feature: requirement.feature, providers: requirement.providers, ok, evidence }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    process.stdout.write(`XEP-0479 (Compliance Suites 2023), Advanced Server: Core, IM, Mobile\n\n${resultTable(results)}\n`);
  }
  return results.every((result) => result.ok) ? 0 : 1;
}

/** The address a local client reaches a listener at: its first address, loopback for "*". */
function endpointOf(listener: ListenerConfig): Endpoint | undefined {
  if (!listener.enabled) return undefined;
  const address = listener.addresses[0] ?? '*';
  return { host: address === '*' ? '127.0.0.1' : address, port: listener.port };
}

/** The self-signed certificate Trellis made for a domain without one of its own, to verify it with; else the system's CAs. */
async function generatedCertificate(config: TrellisConfig, domain: string): Promise<string | undefined> {
  const host = config.hosts.find((candidate) => candidate.domain === domain);
  if (host?.tls) return undefined;
  return readFile(join(config.data_dir, 'certs', `${domain}.crt`), 'utf8').catch(() => undefined);
}
