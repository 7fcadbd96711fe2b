/**
 * `trellis check [config|certs|dns]`: what is wrong with this installation, for a person or a
 * monitoring system (exit code 1 when anything is an error, 0 with warnings only). Without a
 * part named, all three run. Nothing here needs the server to run.
 */
import type { TrellisConfig } from '../config/types.ts';
import { certificateFindings, findingsText, type Finding } from './check-certs.ts';
import { dnsFindings } from './check-dns.ts';

export const CHECK_PARTS = ['config', 'certs', 'dns'] as const;
export type CheckPart = (typeof CHECK_PARTS)[number];

export async function runChecks(config: TrellisConfig, parts: readonly CheckPart[]): Promise<number> {
  const findings: Finding[] = [];
  for (const part of parts) {
    if (part === 'config') {
      // The file loaded (a ConfigError would have ended the command with the keys at fault).
      process.stdout.write(`${config.source ?? 'built-in defaults'}: configuration is valid (${config.hosts.length} host${config.hosts.length === 1 ? '' : 's'}: ${config.hosts.map((host) => host.domain).join(', ')})\n`);
      // The certificate files it names are part of the configuration: errors in them name the key.
      if (!parts.includes('certs')) findings.push(...(await certificateFindings(config)).filter((finding) => finding.level !== 'ok'));
    }
    if (part === 'certs') findings.push(...(await certificateFindings(config)));
    if (part === 'dns') findings.push(...(await dnsFindings(config)));
  }
  if (findings.length > 0) process.stdout.write(findingsText(findings, true));
  return findings.some((finding) => finding.level === 'error') ? 1 : 0;
}
