/** How a value found in YAML is named in error messages: `"big"`, `12`, `a list`, `a mapping`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

/** The path of `key` inside `parent`: `parent.key`, or `parent["key"]` when the key is not a plain name. */
export function keyPath(parent: string, key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** The path of an operator-chosen map key, always quoted: `hosts["example.com"]`. */
export function entryPath(parent: string, key: string): string {
  return `${parent}[${JSON.stringify(key)}]`;
}

/** The path of a list item: `c2s.sasl_mechanisms[1]`. */
export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}
