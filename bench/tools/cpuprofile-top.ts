/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from `npm run bench -- messaging --profile`):
 * the functions with the most self time and the most inclusive time, as file:line.
 *
 *   node bench/tools/cpuprofile-top.ts FILE.cpuprofile [--top 25] [--since SECONDS] [--until SECONDS]
 *
 * `--since` skips the first seconds of the profile (start-up and logins) and `--until` the
 * seconds after it (the clients leaving), so that only the steady traffic counts.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { textTable } from '../report/table.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, since: { type: 'string', default: '0' }, until: { type: 'string', default: 'Infinity' } } });
const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: node bench/tools/cpuprofile-top.ts FILE.cpuprofile [--top 25] [--since SECONDS] [--until SECONDS]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const top = Number(values.top);
const sinceMicros = Number(values.since) * 1e6;
const untilMicros = Number(values.until) * 1e6;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let elapsed = 0;
let counted = 0;
for (let index = 0; index < profile.samples.length; index++) {
  const delta = profile.timeDeltas[index] ?? 0;
  elapsed += delta;
  if (elapsed < sinceMicros || elapsed > untilMicros) continue;
  counted += delta;
  let id: number | undefined = profile.samples[index]!;
  const leaf = byId.get(id)!;
  self.set(keyOf(leaf), (self.get(keyOf(leaf)) ?? 0) + delta);
  // A recursive function counts once per sample.
  const onStack = new Set<string>();
  while (id !== undefined) {
    onStack.add(keyOf(byId.get(id)!));
    id = parentOf.get(id);
  }
  for (const key of onStack) inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
}

function keyOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (url === '') return name;
  const path = url.startsWith('file://') ? relative(REPO, fileURLToPath(url)) : url;
  return `${name} ${path}:${lineNumber + 1}`;
}

const rows = (totals: Map<string, number>) =>
  [...totals.entries()]
    .filter(([key]) => key !== '(root)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, micros]) => [key, (micros / 1000).toFixed(0), ((micros / counted) * 100).toFixed(1)]);

process.stdout.write(`${file}: ${(counted / 1e6).toFixed(2)} s sampled${sinceMicros > 0 ? ` after the first ${values.since} s` : ''}${untilMicros < Infinity ? `, until ${values.until} s` : ''}\n\n`);
process.stdout.write(`self time\n${textTable(['function file:line', 'ms', '%'], rows(self))}\n\n`);
process.stdout.write(`inclusive time\n${textTable(['function file:line', 'ms', '%'], rows(inclusive))}\n`);
