import type { EnumNode, IntegerNode, ListNode, MapNode, ObjectNode, SchemaNode, StringFormat } from './schema.ts';
import { describeValue, entryPath, itemPath, keyPath } from './describe.ts';
import { nearest } from './suggest.ts';

/** One thing wrong with a configuration; `path` is like `c2s.limits.max_stanza_bytes` or `hosts["example.com"].tls.key`. */
export interface ConfigProblem {
  path: string;
  message: string;
  /** 1-based position in the YAML text, for syntax errors */
  line?: number;
  column?: number;
}

export interface ValidationResult {
  /** the input with defaults filled in; only meaningful when `problems` is empty */
  value: Record<string, unknown>;
  problems: ConfigProblem[];
}

/** Checks raw YAML data against `schema`, collecting every problem rather than stopping at the first. */
export function validate(schema: ObjectNode, input: unknown): ValidationResult {
  const problems: ConfigProblem[] = [];
  const value = checkObject(schema, input ?? {}, '', problems) ?? {};
  return { value, problems };
}

type Problems = ConfigProblem[];

function checkNode(node: SchemaNode, value: unknown, path: string, problems: Problems): unknown {
  switch (node.kind) {
    case 'string':
      if (typeof value !== 'string' || (value === '' && node.mayBeEmpty !== true)) return fail(problems, path, `expected a non-empty string, got ${describeValue(value)}`);
      if (node.maxLength !== undefined && value.length > node.maxLength) return fail(problems, path, `expected at most ${node.maxLength} characters, got ${value.length}`);
      return node.format === undefined ? value : checkFormat(node.format, value, path, problems);
    case 'integer':
      return checkInteger(node, value, path, problems);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return fail(problems, path, `expected true or false, got ${describeValue(value)}`);
    case 'enum':
      return checkEnum(node, value, path, problems);
    case 'list':
      return checkList(node, value, path, problems);
    case 'object':
      return checkObject(node, value ?? {}, path, problems);
    case 'map':
      return checkMap(node, value ?? {}, path, problems);
  }
}

function fail(problems: Problems, path: string, message: string): undefined {
  problems.push({ path, message });
  return undefined;
}

function checkFormat(format: StringFormat, value: string, path: string, problems: Problems): string | undefined {
  try {
    return format.prepare(value);
  } catch (error) {
    return fail(problems, path, `${JSON.stringify(value)} is not a valid ${format.name}: ${(error as Error).message}`);
  }
}

function checkInteger(node: IntegerNode, value: unknown, path: string, problems: Problems): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= node.min && value <= node.max) return value;
  return fail(problems, path, `expected an integer between ${node.min} and ${node.max}, got ${describeValue(value)}`);
}

function checkEnum(node: EnumNode, value: unknown, path: string, problems: Problems): string | undefined {
  if (typeof value === 'string' && node.values.includes(value)) return value;
  const choices = node.values.map((v) => JSON.stringify(v)).join(', ');
  const suggestion = typeof value === 'string' ? nearest(value, node.values) : undefined;
  const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
  return fail(problems, path, `expected one of ${choices}, got ${describeValue(value)}${hint}`);
}

function checkList(node: ListNode, value: unknown, path: string, problems: Problems): unknown[] | undefined {
  if (!Array.isArray(value)) return fail(problems, path, `expected a list, got ${describeValue(value)}`);
  if (value.length < node.minItems) {
    return fail(problems, path, `expected at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}, got ${value.length}`);
  }
  const seen = new Set<unknown>();
  return value.map((item, index) => {
    const checked = checkNode(node.item, item, itemPath(path, index), problems);
    if (checked !== undefined && node.unique) {
      if (seen.has(checked)) fail(problems, itemPath(path, index), `${describeValue(checked)} is listed twice`);
      seen.add(checked);
    }
    return checked;
  });
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkObject(node: ObjectNode, value: unknown, path: string, problems: Problems): Record<string, unknown> | undefined {
  if (!isMapping(value)) return fail(problems, path, `expected a mapping, got ${describeValue(value)}`);
  const known = Object.keys(node.fields);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(node.fields, key)) continue;
    const suggestion = nearest(key, known);
    const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
    fail(problems, keyPath(path, key), `unknown key "${key}"${hint}`);
  }
  const problemsBefore = problems.length;
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(node.fields)) {
    const fieldPath = keyPath(path, key);
    let checked: unknown;
    if (Object.hasOwn(value, key)) {
      checked = checkNode(field, value[key], fieldPath, problems);
    } else if (node.required?.includes(key)) {
      fail(problems, fieldPath, 'required key is missing');
    } else {
      checked = defaultOf(field, fieldPath, problems);
    }
    if (checked !== undefined) result[key] = checked;
  }
  if (node.onlyWhen !== undefined) checkOnlyWhen(node.onlyWhen, value, result, path, problems);
  if (node.check !== undefined && problems.length === problemsBefore) {
    for (const { key, message } of node.check(result)) fail(problems, keyPath(path, key), message);
  }
  return result;
}

/** Keys written for a value of `key` they do not apply to (an xep0361 link's `transport` on an s2s link, say). */
function checkOnlyWhen(rule: NonNullable<ObjectNode['onlyWhen']>, written: Record<string, unknown>, result: Record<string, unknown>, path: string, problems: Problems): void {
  const chosen = result[rule.key];
  if (typeof chosen !== 'string') return;
  for (const [key, values] of Object.entries(rule.fields)) {
    if (!Object.hasOwn(written, key) || values.includes(chosen)) continue;
    fail(problems, keyPath(path, key), `is for ${rule.key}: ${values.join(' or ')}, not ${rule.key}: ${chosen}`);
  }
}

/** The value an absent key takes: its default, an object of its fields' defaults, or undefined. */
function defaultOf(node: SchemaNode, path: string, problems: Problems): unknown {
  switch (node.kind) {
    case 'object':
      return node.optional ? undefined : checkObject(node, {}, path, problems);
    case 'map':
      return checkMap(node, {}, path, problems);
    default:
      return node.default;
  }
}

function checkMap(node: MapNode, value: unknown, path: string, problems: Problems): Record<string, unknown> | undefined {
  if (!isMapping(value)) return fail(problems, path, `expected a mapping, got ${describeValue(value)}`);
  const entries = Object.entries(value);
  if (entries.length < node.minEntries) {
    return fail(problems, path, `expected at least ${node.minEntries} entry keyed by ${node.keyName}, got ${entries.length}`);
  }
  const writtenAs = new Map<string, string>();
  const result: Record<string, unknown> = {};
  for (const [key, entry] of entries) {
    const at = entryPath(path, key);
    const prepared = prepareKey(node, key, at, problems);
    if (prepared !== undefined) {
      const earlier = writtenAs.get(prepared);
      if (earlier === undefined) writtenAs.set(prepared, key);
      else fail(problems, at, `the same ${node.keyName} as ${entryPath(path, earlier)} (${JSON.stringify(prepared)})`);
    }
    result[key] = checkObject(node.value, entry ?? {}, at, problems);
  }
  return result;
}

function prepareKey(node: MapNode, key: string, path: string, problems: Problems): string | undefined {
  try {
    return node.prepareKey(key);
  } catch (error) {
    return fail(problems, path, `${JSON.stringify(key)} is not a valid ${node.keyName}: ${(error as Error).message}`);
  }
}
