/**
 * A string kept for long, in one piece. What `serialize` returns is a tree of the pieces it was
 * joined from (in V8, a cons string), which keeps every attribute value and text of the stanza
 * alive beside it: dozens of small objects where the text needs one. Held past a young-generation
 * collection, each is copied and promoted, and dies only in a full collection. V8 joins the pieces
 * into one string, in place, when a regular expression runs on it; the value does not change.
 */
const ANY_START = /^/;

/** `text`, joined into one piece where the engine keeps strings as trees of pieces. */
export function flatString(text: string): string {
  ANY_START.test(text);
  return text;
}
