/**
 * A copy of a string in one block of memory. V8 keeps a string built by concatenation (as the
 * serializer builds XML) as a tree of its pieces: for a short stanza's text, about twice the
 * memory of the text itself. A string kept for a session's lifetime is worth copying once.
 */
export function textInOnePiece(text: string): string {
  // UTF-8 round trip: exact for any text the XML parser produced (it has no lone surrogates).
  return Buffer.from(text, 'utf8').toString('utf8');
}
