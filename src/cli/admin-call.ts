/**
 * How CLI commands reach the running server: through the admin API on the socket the
 * configuration names. When nothing answers, the operator is told so and where we looked.
 */
import type { TrellisConfig } from '../config/types.ts';
import { AdminApiError, AdminUnavailableError } from '../admin/client.ts';

/** Runs `action` against the server's admin socket; problems become a message on stderr and exit code 1. */
export async function withAdminSocket(config: TrellisConfig, action: (socketPath: string) => Promise<number>): Promise<number> {
  if (!config.admin.enabled) {
    process.stderr.write(`trellis: the admin API is disabled in ${config.source ?? 'the configuration'} (admin.enabled: false), so the running server cannot be asked\n`);
    return 1;
  }
  try {
    return await action(config.admin.socket);
  } catch (error) {
    if (error instanceof AdminUnavailableError) {
      const start = `trellis start${config.source ? ` --config ${config.source}` : ''}`;
      process.stderr.write(`trellis: ${error.message}; is the server running? Start one with: ${start}\n`);
      return 1;
    }
    if (error instanceof AdminApiError) {
      process.stderr.write(`trellis: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** "45s", "3m05s", "2h03m", "4d07h": two units at most. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86400)}d${pad(Math.floor(seconds / 3600) % 24)}h`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** Left-aligned columns separated by two spaces; the header row first. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}
