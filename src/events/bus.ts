/**
 * A typed, prioritised event bus. Handlers run from the highest priority down; the first that
 * returns `true` stops the chain and `emit` reports the event as handled.
 *
 * A handler may come with a synchronous `decide` variant for the common case it can settle at
 * once. `decide` runs the chain without waiting: it settles the event only when every handler
 * has a variant and each answers; any handler without one, or one that answers `undefined`
 * (it would have to wait, for storage say), leaves the event to `emit`. A variant that answers
 * `false` or `undefined` has done nothing, so running the chain again with `emit` is safe.
 */
export type EventHandler<Payload> = (payload: Payload) => boolean | void | Promise<boolean | void>;

/** true: taken (the chain stops); false: not mine, go on; undefined: only the handler itself can tell. */
export type EventDecider<Payload> = (payload: Payload) => boolean | undefined;

interface Registration<Payload> {
  handler: EventHandler<Payload>;
  decide: EventDecider<Payload> | undefined;
  priority: number;
}

export class EventBus<Events extends { [name: string]: unknown }> {
  #handlers = new Map<keyof Events, Registration<never>[]>();

  /** Registers a handler (with its synchronous variant, if it has one); returns a function that removes it. */
  on<Name extends keyof Events>(name: Name, handler: EventHandler<Events[Name]>, priority = 0, decide?: EventDecider<Events[Name]>): () => void {
    const registration = { handler, decide, priority } as Registration<never>;
    // Lists are replaced, never changed, so a chain running while handlers come and go is not disturbed.
    const list = [...(this.#handlers.get(name) ?? []), registration];
    list.sort((a, b) => b.priority - a.priority);
    this.#handlers.set(name, list);
    return () => {
      const current = this.#handlers.get(name);
      if (current?.includes(registration)) this.#handlers.set(name, current.filter((entry) => entry !== registration));
    };
  }

  has(name: keyof Events): boolean {
    return (this.#handlers.get(name)?.length ?? 0) > 0;
  }

  /** Runs the chain; resolves true when a handler took the event. */
  emit<Name extends keyof Events>(name: Name, payload: Events[Name]): Promise<boolean> {
    try {
      const taken = this.settle(name, payload);
      return typeof taken === 'boolean' ? (taken ? TAKEN : NOT_TAKEN) : taken;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs the chain as `emit` does, without waiting while the handlers answer at once: a boolean
   * when each handler that ran answered synchronously, else a promise from the first that did
   * not. A handler that throws synchronously throws here.
   */
  settle<Name extends keyof Events>(name: Name, payload: Events[Name]): boolean | Promise<boolean> {
    const list = this.#handlers.get(name) as Registration<Events[Name]>[] | undefined;
    if (!list) return false;
    for (let index = 0; index < list.length; index++) {
      const answer = list[index]!.handler(payload);
      if (answer instanceof Promise) return settleFrom(list, index, answer, payload);
      if (answer === true) return true;
    }
    return false;
  }

  /**
   * Runs the chain's synchronous variants: true when one took the event, false when every
   * handler let it pass, undefined when the chain must be run with `emit` instead.
   */
  decide<Name extends keyof Events>(name: Name, payload: Events[Name]): boolean | undefined {
    const list = this.#handlers.get(name) as Registration<Events[Name]>[] | undefined;
    if (!list) return false;
    for (const { decide } of list) {
      const answer = decide?.(payload);
      if (answer !== false) return answer;
    }
    return false;
  }
}

const TAKEN = Promise.resolve(true);
const NOT_TAKEN = Promise.resolve(false);

/** The rest of a chain once handler `index` answered with a promise. */
async function settleFrom<Payload>(list: readonly Registration<Payload>[], index: number, pending: Promise<boolean | void>, payload: Payload): Promise<boolean> {
  if ((await pending) === true) return true;
  for (let next = index + 1; next < list.length; next++) {
    if ((await list[next]!.handler(payload)) === true) return true;
  }
  return false;
}
