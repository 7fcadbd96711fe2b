/**
 * The notification interests of one host's accounts (interests.ts) kept the same on every node
 * of a cluster (docs/cluster.md, "State every node sees"): a contact's presence reaches the node
 * it is routed on, but the account may publish on another, so each change learnt here is told
 * to the other nodes, which take it without asking the resource anything.
 */
import type { NodeNotices } from '../../router/node-notices.ts';
import type { Logger } from '../../util/log.ts';
import type { NotifyInterests } from './interests.ts';

/** A resource's features (absent: it is forgotten) for an account, as nodes tell each other. */
interface InterestChange {
  account: string;
  resource: string;
  features?: string[];
}

export class SharedInterests {
  readonly #interests: NotifyInterests;
  readonly #notices: NodeNotices;
  readonly #topic: string;
  readonly #logger: Logger;

  constructor(domain: string, interests: NotifyInterests, notices: NodeNotices, logger: Logger) {
    this.#interests = interests;
    this.#notices = notices;
    this.#topic = `pep-interests:${domain}`;
    this.#logger = logger;
    notices.on(this.#topic, (body) => this.#apply(JSON.parse(body) as InterestChange));
  }

  /** Records a resource's features here and on the other nodes; false when it had the same ones already. */
  set(account: string, resource: string, features: ReadonlySet<string>): boolean {
    if (!this.#interests.set(account, resource, features)) return false;
    this.#tell({ account, resource, features: [...features] });
    return true;
  }

  has(account: string, resource: string, features: ReadonlySet<string>): boolean {
    return this.#interests.has(account, resource, features);
  }

  delete(account: string, resource: string): void {
    if (this.#interests.delete(account, resource)) this.#tell({ account, resource });
  }

  recipients(account: string, node: string): string[] {
    return this.#interests.recipients(account, node);
  }

  #tell(change: InterestChange): void {
    this.#notices.publish(this.#topic, JSON.stringify(change)).catch((error: unknown) => {
      this.#logger.warn('personal eventing: interests not told to the other nodes', { resource: change.resource, error: String(error) });
    });
  }

  #apply({ account, resource, features }: InterestChange): void {
    if (typeof account !== 'string' || typeof resource !== 'string') throw new Error('an interest change names an account and a resource');
    if (features === undefined) this.#interests.delete(account, resource);
    else this.#interests.set(account, resource, new Set(features.map(String)));
  }
}
