import { isAbsolute, resolve } from 'node:path';
import type { StorageConfig } from '../config/types.ts';
import type { Storage } from './types.ts';

/**
 * Opens the configured driver. The SQLite file is relative to `dataDir` unless absolute; each
 * driver module is loaded only when chosen, so a SQLite setup never loads `pg`.
 */
export async function openStorage(config: StorageConfig, dataDir: string): Promise<Storage> {
  switch (config.driver) {
    case 'sqlite': {
      const { openSqliteStorage } = await import('./sqlite.ts');
      const file = config.sqlite_file;
      return openSqliteStorage(file === ':memory:' || isAbsolute(file) ? file : resolve(dataDir, file));
    }
    case 'postgres': {
      if (config.postgres_url === undefined || config.postgres_url === '') {
        throw new Error('storage.postgres_url is required when storage.driver is "postgres"');
      }
      const { openPostgresStorage } = await import('./postgres.ts');
      return openPostgresStorage(config.postgres_url);
    }
    default:
      throw new Error(`unknown storage driver: ${String((config as { driver: unknown }).driver)}`);
  }
}
