/**
 * The configuration files that docs pages show (fenced as ```yaml with a first line
 * `# example: NAME`), written out as they are beside the certificates they name, so that a
 * topology test runs exactly what an operator reads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCa } from './ca.ts';
import { writeCertificateFiles } from './ca.ts';
import { addAccounts, startTrellis, type TrellisProcess } from './trellis-process.ts';

/** The example named `name` in `docs/<page>`; throws when the page has none. */
export function docsExample(page: string, name: string): string {
  const text = readFileSync(new URL(`../../../docs/${page}`, import.meta.url), 'utf8');
  const found = new RegExp('```yaml\\n# example: ' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\\n([\\s\\S]*?)```').exec(text);
  if (!found) throw new Error(`docs/${page} has no example named ${name}`);
  return found[1]!;
}

/** Writes `text` to `dir/<name>.yaml`; returns the path. */
export function writeConfig(dir: string, name: string, text: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** A certificate per domain from `ca`, written as `dir/<domain>.crt` and `.key` (the names the examples use), and the CA as `dir/ca.crt`. */
export async function writeDomainCertificates(dir: string, ca: TestCa, domains: readonly string[]): Promise<void> {
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  for (const domain of domains) writeCertificateFiles(dir, domain, await ca.issue({ names: [domain] }));
}

/**
 * Writes the examples `names` of `docs/<page>` to `dir` and starts each as a `trellis start`
 * process, after adding user "u" (password "secret") to the domains in `users` (by example
 * name); returns them by example name.
 */
export async function startExamples(dir: string, page: string, names: readonly string[], users: Readonly<Record<string, string>>): Promise<Map<string, TrellisProcess>> {
  const files = names.map((name) => writeConfig(dir, name, docsExample(page, name)));
  for (const [index, name] of names.entries()) {
    const domain = users[name];
    if (domain !== undefined) await addAccounts(files[index]!, [{ username: 'u', domain }]);
  }
  const servers = new Map<string, TrellisProcess>();
  // One at a time: a loaded machine starts them no faster together.
  for (const [index, name] of names.entries()) servers.set(name, await startTrellis(files[index]!));
  return servers;
}
