/**
 * A typed, prioritised event bus. Handlers run from the highest priority down; the first that
 * returns `true` stops the chain and `emit` reports the event as handled.
 */
export type EventHandler<Payload> = (payload: Payload) => boolean | void | Promise<boolean | void>;

interface Registration<Payload> {
  handler: EventHandler<Payload>;
  priority: number;
}

export class EventBus<Events extends { [name: string]: unknown }> {
  #handlers = new Map<keyof Events, Registration<never>[]>();

  /** Registers a handler; returns a function that removes it. */
  on<Name extends keyof Events>(name: Name, handler: EventHandler<Events[Name]>, priority = 0): () => void {
    const list = (this.#handlers.get(name) ?? []) as Registration<Events[Name]>[];
    const registration = { handler, priority };
    list.push(registration);
    list.sort((a, b) => b.priority - a.priority);
    this.#handlers.set(name, list as Registration<never>[]);
    return () => {
      const index = list.indexOf(registration);
      if (index >= 0) list.splice(index, 1);
    };
  }

  has(name: keyof Events): boolean {
    return (this.#handlers.get(name)?.length ?? 0) > 0;
  }

  async emit<Name extends keyof Events>(name: Name, payload: Events[Name]): Promise<boolean> {
    const list = this.#handlers.get(name) as Registration<Events[Name]>[] | undefined;
    if (!list) return false;
    for (const { handler } of [...list]) {
      if ((await handler(payload)) === true) return true;
    }
    return false;
  }
}
