/**
 * `trellis import` and `trellis export`: accounts, rosters, vCards, private XML and offline
 * messages in XEP-0227 files (src/piefxis, docs/migrating.md), straight in storage.
 */
import type { TrellisConfig } from '../config/types.ts';
import { exportDomains, ExportRefusedError, exportPiefxis } from '../piefxis/export.ts';
import { ImportRefusedError, importPiefxis, type ImportOptions, type ImportSummary } from '../piefxis/import.ts';
import { PiefxisFormatError, DEFAULT_READ_LIMITS } from '../piefxis/reader.ts';
import { openStorage } from '../storage/open.ts';

export interface ImportCliOptions {
  host?: string;
  skipExisting: boolean;
  dryRun: boolean;
  /** --max-element-bytes as given */
  maxElementBytes?: string;
}

export async function importAccounts(config: TrellisConfig, paths: readonly string[], cli: ImportCliOptions): Promise<number> {
  const options: ImportOptions = { skipExisting: cli.skipExisting, dryRun: cli.dryRun };
  if (cli.host !== undefined) options.host = cli.host;
  if (cli.maxElementBytes !== undefined) {
    const bytes = Number(cli.maxElementBytes);
    if (!Number.isSafeInteger(bytes) || bytes < 1024) {
      process.stderr.write(`trellis: --max-element-bytes must be a whole number of bytes, at least 1024 (default ${DEFAULT_READ_LIMITS.maxElementBytes})\n`);
      return 2;
    }
    options.limits = { ...DEFAULT_READ_LIMITS, maxElementBytes: bytes };
  }
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    const summary = await importPiefxis(storage, config, paths, options);
    process.stdout.write(describeImport(summary, cli.dryRun));
    return 0;
  } catch (error) {
    if (error instanceof ImportRefusedError) {
      process.stderr.write(`trellis: ${error.message}\n${error.problems.map((problem) => `  ${problem}\n`).join('')}`);
      return 1;
    }
    if (error instanceof PiefxisFormatError) {
      process.stderr.write(`trellis: ${error.message}\n${cli.dryRun ? '' : 'nothing was imported\n'}`);
      return 1;
    }
    throw error;
  } finally {
    await storage.close();
  }
}

export async function exportAccounts(config: TrellisConfig, dir: string, host: string | undefined): Promise<number> {
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    const summary = await exportPiefxis(storage, dir, exportDomains(config, host));
    for (const { domain, file, users } of summary.hosts) process.stdout.write(`${domain}: ${users} account${users === 1 ? '' : 's'} in ${file}\n`);
    process.stdout.write(`import with: trellis import ${summary.file}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ExportRefusedError)) throw error;
    process.stderr.write(`trellis: ${error.message}\n`);
    return 1;
  } finally {
    await storage.close();
  }
}

function describeImport(summary: ImportSummary, dryRun: boolean): string {
  const lines: string[] = [];
  const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;
  lines.push(`${dryRun ? 'would import' : 'imported'} ${plural(summary.imported, 'account')}: ${summary.passwords.plain} with a password, ${summary.passwords.scram} with SCRAM keys, ${summary.passwords.none.length} without either`);
  lines.push(`  ${plural(summary.rosterItems, 'roster item')}, ${plural(summary.pendingRequests, 'pending subscription request')}, ${plural(summary.vcards, 'vCard')}, ${plural(summary.privateDocuments, 'private XML document')}, ${plural(summary.offlineMessages, 'offline message')}`);
  if (summary.offlineRefused > 0) lines.push(`  ${plural(summary.offlineRefused, 'offline message')} over the mailbox quota (offline.max_messages, max_bytes, max_per_sender) left out`);
  if (summary.skipped.length > 0) lines.push(`skipped ${plural(summary.skipped.length, 'account')} that already exist here: ${listed(summary.skipped)}`);
  if (summary.passwords.none.length > 0) lines.push(`no password in the files for: ${listed(summary.passwords.none)} (set one with: trellis passwd JID)`);
  for (const [host, users] of summary.otherHosts) lines.push(`passed over host ${host} (${plural(users, 'account')}): not the one asked for with --host`);
  for (const [what, users] of summary.ignored) lines.push(`not imported: ${what} (${plural(users, 'account')})`);
  return `${lines.join('\n')}\n`;
}

/** At most 20 JIDs, then how many more. */
function listed(jids: readonly string[]): string {
  return jids.length <= 20 ? jids.join(', ') : `${jids.slice(0, 20).join(', ')} and ${jids.length - 20} more`;
}
