/**
 * What a service keeps of a node besides its items: configuration, affiliations (XEP-0060
 * section 4.1) and subscriptions (section 4.2), stored as one JSON document.
 */
import type { StoredPubsubNode } from '../storage/types.ts';
import { defaultConfig, type NodeConfig } from './node-config.ts';

export const AFFILIATIONS = ['owner', 'publisher', 'member', 'none', 'outcast'] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];

export interface NodeState {
  name: string;
  config: NodeConfig;
  /** bare JID → affiliation; `none` is never kept */
  affiliations: Record<string, Exclude<Affiliation, 'none'>>;
  /** the JIDs (bare or full, as subscribed) with a subscription in state "subscribed" */
  subscriptions: string[];
}

export function newNode(name: string, kind: 'pep' | 'service', owner: string, config: NodeConfig = defaultConfig(kind)): NodeState {
  return { name, config, affiliations: { [owner]: 'owner' }, subscriptions: [] };
}

export function encodeNode(state: NodeState): StoredPubsubNode {
  const { name, ...rest } = state;
  return { name, state: JSON.stringify(rest) };
}

/** A stored node; configuration fields added since it was stored take their defaults. */
export function decodeNode(stored: StoredPubsubNode, kind: 'pep' | 'service'): NodeState {
  const parsed = JSON.parse(stored.state) as Omit<NodeState, 'name'>;
  return { name: stored.name, config: { ...defaultConfig(kind), ...parsed.config }, affiliations: parsed.affiliations ?? {}, subscriptions: parsed.subscriptions ?? [] };
}

export function affiliationOf(state: NodeState, bare: string): Affiliation {
  return state.affiliations[bare] ?? 'none';
}
