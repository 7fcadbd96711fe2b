import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Yaml from 'yaml';
import type { TrellisConfig } from './types.ts';
import { trellisSchema } from './schema.ts';
import { validate, type ConfigProblem } from './validate.ts';
import { resolveConfig, type ValidatedConfig } from './resolve.ts';

export type { ConfigProblem } from './validate.ts';

/** The file looked for in the working directory when no `--config` is given. */
export const DEFAULT_CONFIG_FILE = 'trellis.yaml';

/** A configuration that cannot be used; `problems` lists everything wrong, not just the first thing. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  readonly file?: string;

  constructor(problems: readonly ConfigProblem[], file?: string) {
    super(problems.map((problem) => formatProblem(problem, file)).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
    if (file !== undefined) this.file = file;
  }
}

/** `file:line:column: message` for syntax errors, `file: path: message` for everything else. */
export function formatProblem(problem: ConfigProblem, file?: string): string {
  let where = file ?? '';
  if (problem.line !== undefined) where += `${where === '' ? '' : ':'}${problem.line}:${problem.column ?? 1}`;
  return [where, problem.path, problem.message].filter((part) => part !== '').join(': ');
}

export interface ParseOptions {
  /** the file the text came from, named in errors and recorded as `source` */
  file?: string;
  /** directory that relative data_dir and TLS paths resolve against, normally the file's directory */
  baseDir: string;
}

/**
 * The YAML parser: some 70 modules and about 0.75 MB of heap once compiled, needed only while a
 * file is read. It is loaded with `require`, whose cache can let go of a package as an ES import
 * never does: `loadConfig` drops it once the file is read (the server's first full collection,
 * src/util/settle-heap.ts, then frees it), and the next file read, a reload say, loads it again.
 */
let yaml: typeof Yaml | undefined;

function yamlParser(): typeof Yaml {
  // A require of its own each time: the module it belongs to lists what it loaded, and is let go with it.
  yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yaml;
}

function releaseYamlParser(): void {
  if (yaml === undefined) return;
  yaml = undefined;
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve('yaml/package.json')) + path.sep;
  for (const loaded of Object.keys(require.cache)) if (loaded.startsWith(packageDir)) delete require.cache[loaded];
}

/** Validates YAML text and resolves it into a frozen TrellisConfig; throws ConfigError listing every problem. */
export function parseConfig(yamlText: string, options: ParseOptions): TrellisConfig {
  const document = yamlParser().parseDocument(yamlText);
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map(syntaxProblem), options.file);
  }
  return fromData(document.toJS(), options);
}

/** Reads and parses a configuration file; relative paths in it resolve against its directory. */
export async function loadConfig(file: string): Promise<TrellisConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigError([{ path: '', message: `cannot read configuration file: ${reason}` }], file);
  }
  try {
    return parseConfig(text, { file, baseDir: path.dirname(path.resolve(file)) });
  } finally {
    releaseYamlParser();
  }
}

/** The configuration used when there is no file: data under `baseDir/data`, one host "localhost", all defaults. */
export function defaultConfig(baseDir: string): TrellisConfig {
  return fromData({ hosts: { localhost: {} } }, { baseDir });
}

/** The configuration file to use: the explicit `--config` path, else ./trellis.yaml when present, else none. */
export function findConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined) return path.resolve(cwd, explicit);
  const candidate = path.join(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(candidate) ? candidate : undefined;
}

function fromData(data: unknown, options: ParseOptions): TrellisConfig {
  const { value, problems } = validate(trellisSchema, data);
  if (problems.length > 0) throw new ConfigError(problems, options.file);
  const resolved = resolveConfig(value as ValidatedConfig, options);
  if (resolved.problems.length > 0) throw new ConfigError(resolved.problems, options.file);
  return resolved.config;
}

function syntaxProblem(error: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): ConfigProblem {
  const message = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
  const start = error.linePos?.[0];
  return start === undefined ? { path: '', message } : { path: '', message, line: start.line, column: start.col };
}
