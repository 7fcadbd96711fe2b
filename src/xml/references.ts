/** Character and entity references (XML 1.0 section 4.1) as XMPP restricts them (RFC 6120 section 11.1). */

import { isXmlChar } from './chars.ts';

export interface ReferenceProblem {
  condition: 'not-well-formed' | 'restricted-xml';
  message: string;
}

/** The five entities XML predefines (XML 1.0 section 4.6); the only ones XMPP allows. */
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const DECIMAL = /^#[0-9]+$/;
const HEXADECIMAL = /^#x[0-9A-Fa-f]+$/;
const ENTITY_NAME = /^[A-Za-z_:\u0080-\u{10FFFF}][A-Za-z0-9_:.\-\u0080-\u{10FFFF}]*$/u;

/** Resolves the text between `&` and `;` to the character(s) it stands for. */
export function resolveReference(reference: string): string | ReferenceProblem {
  if (reference.charCodeAt(0) === 0x23) {
    let code = Number.NaN;
    if (DECIMAL.test(reference)) code = Number.parseInt(reference.slice(1), 10);
    else if (HEXADECIMAL.test(reference)) code = Number.parseInt(reference.slice(2), 16);
    if (!isXmlChar(code)) return { condition: 'not-well-formed', message: `&${reference}; is not a reference to an XML character` };
    return String.fromCodePoint(code);
  }
  if (Object.hasOwn(PREDEFINED, reference)) return PREDEFINED[reference];
  if (ENTITY_NAME.test(reference)) return { condition: 'restricted-xml', message: `entity reference &${reference}; is not allowed` };
  return { condition: 'not-well-formed', message: `malformed reference &${reference};` };
}
