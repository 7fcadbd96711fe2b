/** SCRAM message syntax (RFC 5802 section 7). */

export class ScramSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramSyntaxError';
  }
}

export interface ScramAttribute {
  name: string;
  value: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Messages are UTF-8 (RFC 5802 section 7: "UTF8-char"), never containing NUL. */
export function decodeMessage(data: Buffer): string {
  let text: string;
  try {
    text = strictUtf8.decode(data);
  } catch {
    throw new ScramSyntaxError('message is not valid UTF-8');
  }
  if (text.includes('\0')) throw new ScramSyntaxError('message contains NUL');
  return text;
}

/** Splits `a=value,b=value` into attributes; every attribute is one ASCII letter, '=', a value. */
export function parseAttributes(text: string): ScramAttribute[] {
  return text.split(',').map((field) => {
    if (!/^[A-Za-z]=/.test(field)) throw new ScramSyntaxError(`malformed attribute "${field.slice(0, 32)}"`);
    return { name: field[0]!, value: field.slice(2) };
  });
}

/** Takes the next attribute, which must have the given name. */
export function expectAttribute(attributes: ScramAttribute[], index: number, name: string): string {
  const attribute = attributes[index];
  if (attribute?.name !== name) throw new ScramSyntaxError(`expected attribute "${name}" at position ${index + 1}`);
  return attribute.value;
}

/** saslname (RFC 5802 section 7): ',' and '=' travel as "=2C" and "=3D", no other escape exists. */
export function decodeSaslName(value: string): string {
  if (value.length === 0) throw new ScramSyntaxError('empty name');
  return value.replace(/=(..)?/gs, (_escape, code: string | undefined) => {
    if (code === '2C') return ',';
    if (code === '3D') return '=';
    throw new ScramSyntaxError('invalid "=" escape in name');
  });
}

export function encodeSaslName(name: string): string {
  return name.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

/** c-nonce and s-nonce are printable ASCII except ',' (RFC 5802 section 7). */
export function checkNonce(nonce: string): void {
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce)) throw new ScramSyntaxError('nonce is empty or not printable');
}

/** Strict base64 (RFC 4648 section 4) as SCRAM requires for c=, s=, p= and v=. */
export function decodeBase64(value: string, what: string): Buffer {
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new ScramSyntaxError(`${what} is not valid base64`);
  return Buffer.from(value, 'base64');
}

/** iteration-count: a positive decimal integer without leading zeros. */
export function parseIterationCount(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new ScramSyntaxError('invalid iteration count');
  return Number(value);
}
