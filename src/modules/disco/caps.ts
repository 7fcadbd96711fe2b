/**
 * Entity capabilities (XEP-0115): the verification string of a disco#info answer and its hash.
 * The server advertises its own in the stream features after authentication (section 6.3).
 */
import { createHash } from 'node:crypto';
import type { DiscoIdentity } from '../../router/host.ts';

export const NS_CAPS = 'http://jabber.org/protocol/caps';
/** The node that names this software in `<c node='...'/>` (XEP-0115 section 4). */
export const CAPS_NODE = 'https://trellis.example/caps';

/** An identity as disco#info carries it, with its optional xml:lang. */
export interface CapsIdentity extends DiscoIdentity {
  lang?: string;
}

/** An extended information form (XEP-0128): its FORM_TYPE and its other fields' values. */
export interface CapsForm {
  formType: string;
  fields: { name: string; values: string[] }[];
}

export interface CapsInput {
  identities: readonly CapsIdentity[];
  features: readonly string[];
  forms?: readonly CapsForm[];
}

/**
 * XEP-0115 section 5.1: identities sorted by category, type, xml:lang (and name, for
 * determinism), each `category/type/lang/name<`; then the sorted features, each followed by
 * `<`; then each form sorted by FORM_TYPE: its FORM_TYPE, then its fields sorted by var, each
 * var followed by its sorted values, all followed by `<`. Values are the character data
 * itself, never XML-escaped. Sorting is "i;octet" (RFC 4790 section 9.3): by UTF-8 bytes.
 */
export function capsVerificationString(input: CapsInput): string {
  let s = '';
  const identities = input.identities.map((identity) => [identity.category, identity.type, identity.lang ?? '', identity.name ?? ''] as const);
  identities.sort((a, b) => compareOctets(a[0], b[0]) || compareOctets(a[1], b[1]) || compareOctets(a[2], b[2]) || compareOctets(a[3], b[3]));
  for (const identity of identities) s += identity.join('/') + '<';
  for (const feature of [...input.features].sort(compareOctets)) s += feature + '<';
  const forms = [...(input.forms ?? [])].sort((a, b) => compareOctets(a.formType, b.formType));
  for (const form of forms) {
    s += form.formType + '<';
    const fields = form.fields.filter((field) => field.name !== 'FORM_TYPE').sort((a, b) => compareOctets(a.name, b.name));
    for (const field of fields) {
      s += field.name + '<';
      for (const value of [...field.values].sort(compareOctets)) s += value + '<';
    }
  }
  return s;
}

/** XEP-0115 section 5.1 steps 8-9: SHA-1 over the UTF-8 verification string, base64. */
export function capsHash(input: CapsInput): string {
  return createHash('sha1').update(capsVerificationString(input), 'utf8').digest('base64');
}

function compareOctets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
