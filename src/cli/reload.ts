/**
 * `trellis reload`: asks the running server to read its configuration file again (POST
 * /v1/reload) and prints its answer: what changed, what was refused and why, what waits for a
 * restart. Exit code 0 when everything in the file took effect or waits only for a restart,
 * 1 when anything was refused (the whole file, or a certificate that did not load).
 */
import type { TrellisConfig } from '../config/types.ts';
import { adminJson } from '../admin/client.ts';
import type { ReloadOutcome } from '../server-reload.ts';
import { pidFilePath, runningServerPid } from './pid-file.ts';
import { withAdminSocket } from './admin-call.ts';

/** Loading certificates and rebuilding hosts can take longer than a plain query. */
const RELOAD_TIMEOUT_MS = 120_000;

type Reloaded = ReloadOutcome & { ok: true };

export function reloadServer(config: TrellisConfig): Promise<number> {
  if (!config.admin.enabled) return Promise.resolve(signalReload(config));
  return withAdminSocket(config, async (socket) => {
    const outcome = await adminJson<Reloaded>(socket, 'POST', '/v1/reload', RELOAD_TIMEOUT_MS);
    process.stdout.write(reloadText(outcome));
    return outcome.certificates.failed.length > 0 ? 1 : 0;
  });
}

export function reloadText(outcome: Reloaded): string {
  const lines: string[] = [];
  const list = (label: string, items: readonly string[]): void => {
    if (items.length > 0) lines.push(`${label}: ${items.join(', ')}`);
  };
  list('hosts added', outcome.added);
  list('hosts removed (their sessions ended with host-gone)', outcome.removed);
  list('hosts changed (rebuilt; their sessions stay)', outcome.changed);
  list('links added', outcome.links.added);
  list('links removed (their queued messages took their new route, or bounced)', outcome.links.removed);
  list('links reopened with new settings (their queues carry on)', outcome.links.changed);
  for (const renewed of outcome.certificates.renewed) {
    lines.push(`certificate renewed: ${renewed.domain} (${renewed.files.certificate}), SHA-256 ${renewed.fingerprint}, valid until ${renewed.notAfter}; new connections get it, open ones keep theirs`);
  }
  for (const failed of outcome.certificates.failed) {
    lines.push(`refused: the certificate of ${failed.domain} (${failed.files.certificate}, key ${failed.files.key}): ${failed.error}; the previous certificate stays in use`);
  }
  for (const pending of outcome.restartPending) {
    lines.push(`needs a restart: ${pending.key} (running: ${JSON.stringify(pending.running)}, in the file: ${JSON.stringify(pending.file)})`);
  }
  const head = lines.length === 0 ? 'configuration reloaded: nothing changed' : 'configuration reloaded';
  return [head, ...lines.map((line) => `  ${line}`)].join('\n') + '\n';
}

/** Without the admin API the server cannot answer; SIGHUP makes it reload, and its log shows the outcome. */
function signalReload(config: TrellisConfig): number {
  const pid = runningServerPid(config.data_dir);
  if (pid === undefined) {
    process.stderr.write(`trellis: no running server found (no live pid in ${pidFilePath(config.data_dir)}); start one with: trellis start${config.source ? ` --config ${config.source}` : ''}\n`);
    return 1;
  }
  process.kill(pid, 'SIGHUP');
  process.stdout.write(`the admin API is disabled (admin.enabled: false), so the server cannot answer: sent SIGHUP to pid ${pid}; its log shows what changed\n`);
  return 0;
}
