import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { EXAMPLE_FILE, renderDocs } from './docgen.ts';
import { parseConfig } from './load.ts';

const DOCS_FILE = new URL('../../docs/configuration.md', import.meta.url);
const TYPES_FILE = new URL('./types.ts', import.meta.url);

/** Lists of TrellisConfig written as maps keyed by something else than a domain: the field that holds the key, and how docs write it. */
/** Lists resolved from maps whose items are keyed by something other than a domain. */
const MAP_KEYS: Record<string, { field: string; written: string }> = {
  PeeringGroup: { field: 'name', written: '<group name>' },
  LinkConfig: { field: 'name', written: '<link name>' },
  SecurityPolicyConfig: { field: 'name', written: '<policy name>' },
  EssLabelConfig: { field: 'encoding', written: '<ESS label (base64)>' },
  ClearanceConfig: { field: 'who', written: '<JID pattern>' },
  RoomLabelsConfig: { field: 'who', written: '<room JID pattern>' },
};

/**
 * Every YAML key path that TrellisConfig in types.ts declares, read from its syntax tree:
 * `source` is not written by operators and a host's `domain` is its key in `hosts`.
 */
function keyPathsOfTrellisConfig(): string[] {
  const source = ts.createSourceFile('types.ts', readFileSync(TYPES_FILE, 'utf8'), ts.ScriptTarget.Latest);
  const interfaces = new Map<string, ts.InterfaceDeclaration>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node);
  });
  const paths: string[] = [];
  /** An interface's own members and those of the interfaces it extends. */
  const membersOf = (declaration: ts.InterfaceDeclaration): ts.TypeElement[] => [
    ...(declaration.heritageClauses ?? []).flatMap((clause) =>
      clause.types.flatMap((base) => {
        const parent = interfaces.get(base.expression.getText(source));
        return parent ? membersOf(parent) : [];
      }),
    ),
    ...declaration.members,
  ];
  const walk = (members: readonly ts.TypeElement[], prefix: string, skip: string[]): void => {
    for (const member of members) {
      if (!ts.isPropertySignature(member) || member.type === undefined) continue;
      const name = member.name.getText(source);
      if (skip.includes(name)) continue;
      const keyPath = prefix === '' ? name : `${prefix}.${name}`;
      let type = member.type;
      if (ts.isTypeOperatorNode(type)) type = type.type;
      if (ts.isArrayTypeNode(type) && ts.isTypeReferenceNode(type.elementType)) {
        const elementName = type.elementType.typeName.getText(source);
        const element = interfaces.get(elementName);
        if (element !== undefined) {
          const key = MAP_KEYS[elementName] ?? { field: 'domain', written: '<domain>' };
          walk(membersOf(element), `${keyPath}.${key.written}`, [key.field]);
          continue;
        }
      }
      const nested = ts.isTypeLiteralNode(type)
        ? type.members
        : ts.isTypeReferenceNode(type)
          ? (() => {
              const declaration = interfaces.get(type.typeName.getText(source));
              return declaration ? membersOf(declaration) : undefined;
            })()
          : undefined;
      if (nested === undefined) paths.push(keyPath);
      else walk(nested, keyPath, []);
    }
  };
  walk(membersOf(interfaces.get('TrellisConfig')!), '', ['source']);
  return paths;
}

test('docs/configuration.md is the output of the generator', () => {
  const generated = renderDocs(readFileSync(EXAMPLE_FILE, 'utf8'));
  assert.equal(readFileSync(DOCS_FILE, 'utf8'), generated, 'regenerate with: node src/config/docgen.ts > docs/configuration.md');
});

test('the documented keys are exactly the keys of TrellisConfig', () => {
  const documented = [...readFileSync(DOCS_FILE, 'utf8').matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]);
  const declared = keyPathsOfTrellisConfig();
  assert.ok(declared.includes('c2s.limits.max_stanza_bytes'));
  assert.ok(declared.includes('hosts.<domain>.tls.key'));
  assert.deepEqual(documented.toSorted(), declared.toSorted());
});

test('trellis.example.yaml is a valid configuration with two hosts', () => {
  const file = fileURLToPath(EXAMPLE_FILE);
  const config = parseConfig(readFileSync(file, 'utf8'), { file, baseDir: fileURLToPath(new URL('.', EXAMPLE_FILE)) });
  assert.deepEqual(config.hosts.map((host) => host.domain), ['localhost', 'example.com']);
});
