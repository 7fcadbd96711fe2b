/**
 * The stanzas one server connection carried each way since it opened, and how many of them were
 * errors (RFC 6120 section 8.3: `type='error'`), for the rows of `trellis s2s` and the console's
 * federation map: a peer that answers everything with errors shows on its own connection.
 */
import type { Element } from '../xml/element.ts';

export class ConnectionTraffic {
  stanzasIn = 0;
  stanzasOut = 0;
  errorsIn = 0;
  errorsOut = 0;

  count(direction: 'in' | 'out', stanza: Element): void {
    const error = stanza.attrs.type === 'error';
    if (direction === 'in') {
      this.stanzasIn++;
      if (error) this.errorsIn++;
    } else {
      this.stanzasOut++;
      if (error) this.errorsOut++;
    }
  }
}
