/** Finds and loads the configuration the CLI commands act on. */
import { defaultConfig, findConfigFile, loadConfig } from '../config/load.ts';
import type { TrellisConfig } from '../config/types.ts';

export async function loadCliConfig(explicit: string | undefined): Promise<TrellisConfig> {
  const file = findConfigFile(explicit, process.cwd());
  return file ? loadConfig(file) : defaultConfig(process.cwd());
}
