/**
 * `trellis policy explain --from A --to B [--stanza FILE]`: the configuration file's peering policy, compiled as
 * the server compiles it, asked about one pair of domains (src/policy/explain.ts). Run-time
 * blocks and bans (`trellis s2s block`, `trellis ban`) live in the running server and are not
 * part of the answer.
 */
import { readFileSync } from 'node:fs';
import type { TrellisConfig } from '../config/types.ts';
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { explain, formatExplanation } from '../policy/explain.ts';
import { PolicySnapshot } from '../policy/snapshot.ts';

/** `stanzaFile`: a file holding one stanza (`--stanza`), judged by the checks of the peering rule. */
export function explainPolicy(config: TrellisConfig, from: string, to: string, stanzaFile?: string): number {
  const hosted = new Set(config.hosts.map((host) => host.domain));
  let explanation;
  try {
    const stanza = stanzaFile === undefined ? undefined : readStanza(stanzaFile);
    explanation = explain(new PolicySnapshot(config), (domain) => hosted.has(domain), from, to, stanza);
  } catch (error) {
    process.stderr.write(`trellis: ${(error as Error).message}\n`);
    return 2;
  }
  process.stdout.write(formatExplanation(explanation));
  return explanation.direction === 'none' ? 1 : 0;
}

/** One message, presence or IQ stanza, in jabber:client unless it says otherwise. */
function readStanza(file: string): Element {
  let stanza: Element;
  try {
    stanza = parseElement(readFileSync(file, 'utf8').trim(), undefined, NS_CLIENT);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  if (!['message', 'presence', 'iq'].includes(stanza.name)) throw new Error(`${file}: expected a message, presence or iq stanza, found <${stanza.name}/>`);
  return stanza;
}
