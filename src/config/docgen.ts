/**
 * Renders the configuration schema as Markdown. docs/configuration.md is this script's output:
 *   node src/config/docgen.ts > docs/configuration.md
 */
import { readFileSync } from 'node:fs';
import type { ObjectNode, SchemaNode } from './schema.ts';
import { trellisSchema } from './schema.ts';

export const EXAMPLE_FILE = new URL('../../trellis.example.yaml', import.meta.url);

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

const INTRO = `# Configuration

Trellis reads one YAML file. It is looked up in this order:

1. the file given with \`--config <file>\`;
2. \`trellis.yaml\` in the working directory;
3. none: the built-in defaults below, with data in \`./data\` and the single host \`localhost\`.

Keys not listed here are rejected, with a suggestion when one is close. Relative paths resolve
against the directory of the configuration file, except \`storage.sqlite_file\`, which resolves
against \`data_dir\`. Durations are plain numbers in the unit the description names. TLS files
must exist and be readable when the server starts.

Every problem is reported at once, one per line, naming the file and the key:

\`\`\`
trellis.yaml: c2s.limits.max_stanza_bytes: expected an integer between 1024 and 67108864, got "big"
trellis.yaml: c2s.requre_tls: unknown key "requre_tls"; did you mean "require_tls"?
trellis.yaml:7:3: All mapping items must start at the same column
\`\`\`

\`trellis check config [--config <file>]\` validates a file without starting the server.
`;

/** The whole of docs/configuration.md, given the text of trellis.example.yaml. */
export function renderDocs(exampleYaml: string): string {
  const sections = Object.entries(trellisSchema.fields).map(([key, node]) => renderSection(key, node));
  const example = `## Example\n\nThis is \`trellis.example.yaml\` from the repository root.\n\n\`\`\`yaml\n${exampleYaml.trimEnd()}\n\`\`\`\n`;
  return [INTRO, ...sections, example].join('\n');
}

function renderSection(key: string, node: SchemaNode): string {
  const rows = leafRows(key, node, undefined);
  const isSection = node.kind === 'object' || node.kind === 'map';
  const lines = [
    `## \`${key}\``,
    '',
    ...(isSection ? [capitalize(node.description) + '.', ''] : []),
    '| Key | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| \`${row.key}\` | ${row.type} | ${row.default} | ${escapeCell(row.description)} |`),
    '',
  ];
  return lines.join('\n');
}

/** One row per scalar or list key under `node`; `parent` is the enclosing object, for required keys. */
function leafRows(key: string, node: SchemaNode, parent: ObjectNode | undefined): Row[] {
  switch (node.kind) {
    case 'object':
      return Object.entries(node.fields).flatMap(([name, field]) => leafRows(`${key}.${name}`, field, node));
    case 'map':
      return leafRows(`${key}.<${node.keyName}>`, node.value, undefined);
    default: {
      const name = key.slice(key.lastIndexOf('.') + 1);
      const required = parent?.required?.includes(name) ?? false;
      return [{ key, type: typeName(node), default: defaultText(node, required), description: node.description }];
    }
  }
}

function typeName(node: SchemaNode): string {
  switch (node.kind) {
    case 'string':
      if (node.format !== undefined) return node.format.name;
      return node.maxLength === undefined ? 'string' : `string, at most ${node.maxLength} characters`;
    case 'integer':
      return `integer, ${node.min}–${node.max}`;
    case 'boolean':
      return 'boolean';
    case 'enum':
      return `one of ${node.values.map((value) => `\`${value}\``).join(', ')}`;
    case 'list':
      return node.item.kind === 'string' && node.item.format === undefined ? 'list of strings' : `list, each ${typeName(node.item)}`;
    case 'object':
      return 'mapping';
    case 'map':
      return `mapping keyed by ${node.keyName}`;
  }
}

function defaultText(node: SchemaNode, required: boolean): string {
  if (required) return 'required';
  if (!('default' in node) || node.default === undefined) return '—';
  const value = node.default;
  const text = Array.isArray(value) ? `[${value.map((item) => JSON.stringify(item)).join(', ')}]` : JSON.stringify(value);
  return `\`${text}\``;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

if (import.meta.main) {
  process.stdout.write(renderDocs(readFileSync(EXAMPLE_FILE, 'utf8')));
}
