/**
 * Where a room runs. On a single server every room runs here. In a cluster (docs/cluster.md,
 * "Group chat") each room runs on one node at a time: the cluster sets a placement on the router,
 * and every stanza for a room (to its bare JID or an occupant JID) is first offered to it, which
 * hands the stanza to the room's node unless that is this one.
 */
import type { Jid } from '../jid/jid.ts';
import type { Router } from '../router/router.ts';
import type { Element } from '../xml/element.ts';

export interface RoomPlacement {
  /** True when the stanza for `room` (a bare room JID) was taken to run elsewhere; false when the room runs here. */
  handOver(room: Jid, stanza: Element): boolean;
}

const placements = new WeakMap<Router, RoomPlacement>();

/** Sets (or, with undefined, removes) where the rooms of the router's services run. */
export function placeRooms(router: Router, placement: RoomPlacement | undefined): void {
  if (placement === undefined) placements.delete(router);
  else placements.set(router, placement);
}

/** True when the stanza for `room` goes to another node instead of being handled here. */
export function handedOver(router: Router, room: Jid, stanza: Element): boolean {
  return placements.get(router)?.handOver(room, stanza) === true;
}
