/** An address that does not conform to RFC 7622; the message says which rule it breaks. */
export class JidMalformedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JidMalformedError';
  }
}

/** RFC 7622 sections 3.2, 3.3 and 3.4: every part is at most 1023 octets of UTF-8. */
export const MAX_PART_BYTES = 1023;

/**
 * Longest raw part worth preparing. Preparation only shrinks a string by composing or
 * remapping a few code points, so anything four times the octet limit cannot succeed.
 */
export const MAX_RAW_PART_LENGTH = 4 * MAX_PART_BYTES;

export function checkPartLength(prepared: string, partName: string): void {
  const bytes = Buffer.byteLength(prepared, 'utf8');
  if (bytes > MAX_PART_BYTES) {
    throw new JidMalformedError(`${partName} is ${bytes} bytes long, more than ${MAX_PART_BYTES}`);
  }
}

export function checkRawLength(raw: string, partName: string): void {
  if (raw.length > MAX_RAW_PART_LENGTH) {
    throw new JidMalformedError(`${partName} is far longer than ${MAX_PART_BYTES} bytes`);
  }
}
