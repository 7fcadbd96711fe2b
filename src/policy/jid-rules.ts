/**
 * JID rules of a peering rule (docs/peering.md, "Who may send to whom"): patterns on the sender
 * and the recipient of a stanza that crosses, and groups of local users, so that only some
 * roles of an organization may exchange with other domains. Patterns are read at load
 * (src/config/jid-pattern.ts); here addresses are matched against them.
 */
import { parseJidPattern, type JidPattern } from '../config/jid-pattern.ts';
import type { PeeringGroup } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';

/** One compiled list: each entry matches an address or not, and says where it was written. */
export class JidPatternList {
  readonly #entries: { pattern: JidPattern; written: string }[];
  readonly #groups: ReadonlyMap<string, readonly JidPattern[]>;

  constructor(written: readonly string[], groups: ReadonlyMap<string, readonly JidPattern[]>) {
    this.#entries = written.map((text) => ({ pattern: parseJidPattern(text), written: text }));
    this.#groups = groups;
  }

  /** The index of the first entry that covers `jid`, or -1. */
  indexOf(jid: Jid): number {
    return this.#entries.findIndex((entry) => this.#covers(entry.pattern, jid));
  }

  written(index: number): string {
    return this.#entries[index]!.written;
  }

  #covers(pattern: JidPattern, jid: Jid): boolean {
    switch (pattern.kind) {
      case 'any':
        return true;
      case 'group':
        return (this.#groups.get(pattern.name) ?? []).some((member) => member.kind !== 'group' && this.#covers(member, jid));
      case 'domain':
        return jid.domain === pattern.domain;
      case 'subdomains':
        return jid.domain.endsWith(`.${pattern.domain}`);
      case 'bare':
        return jid.bare().toString() === pattern.jid;
    }
  }
}

/** The groups of `s2s.peering_groups`, compiled once per snapshot. */
export function compileGroups(groups: readonly PeeringGroup[]): Map<string, JidPattern[]> {
  return new Map(groups.map((group) => [group.name, group.members.map(parseJidPattern)]));
}
