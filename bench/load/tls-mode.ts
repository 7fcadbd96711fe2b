/**
 * TLS for the client scenarios, as deployed: `TRELLIS_BENCH_TLS=1` (set by `--tls` of
 * `npm run bench -- summary`, or by hand for one scenario) makes every server require STARTTLS
 * (RFC 6120 section 5) on its client listener with the same certificate, and every benchmark
 * client negotiate it with TLS 1.3 and one cipher suite only, so every server runs the same
 * cipher whatever its own preferences. The environment carries the choice to the load generator
 * processes; every results file records it (report/results.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BENCH_TLS_ENV = 'TRELLIS_BENCH_TLS';
/** the TLS 1.3 suite every client offers alone (RFC 8446 appendix B.4) */
export const BENCH_CIPHER_SUITE = 'TLS_AES_128_GCM_SHA256';

export function benchTls(): boolean {
  return process.env[BENCH_TLS_ENV] === '1';
}

/** How the benchmark clients connect, for the reports. */
export function clientTransport(): string {
  return benchTls() ? `STARTTLS (TLS 1.3, ${BENCH_CIPHER_SUITE})` : 'plain TCP';
}

export interface BenchCertificate {
  certificate: string;
  key: string;
}

/**
 * One self-signed ECDSA P-256 certificate for `domain`, made once with openssl and shared by every
 * server of every run (a server reads it; nothing is written into it).
 */
export function benchCertificate(domain: string): BenchCertificate {
  const dir = join(tmpdir(), 'trellis-bench-tls');
  const files = { certificate: join(dir, `${domain}.crt`), key: join(dir, `${domain}.key`) };
  if (existsSync(files.certificate) && existsSync(files.key)) return files;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const partial = { certificate: `${files.certificate}.${process.pid}`, key: `${files.key}.${process.pid}` };
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
    '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain}`,
    '-keyout', partial.key, '-out', partial.certificate,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Readable by the servers' users (Prosody drops to its own user when not run as root).
  execFileSync('chmod', ['0644', partial.key, partial.certificate]);
  renameSync(partial.key, files.key);
  renameSync(partial.certificate, files.certificate);
  return files;
}
