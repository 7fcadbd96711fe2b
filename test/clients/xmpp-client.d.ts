// @xmpp/client ships no type declarations; the tests use a small part of it.
declare module '@xmpp/client' {
  export function client(options: Record<string, unknown>): any;
  export function xml(name: string, attrs?: Record<string, string>, ...children: unknown[]): any;
}

// ltx (the XML library under @xmpp/client) parses XML written by the tests.
declare module 'ltx' {
  export function parse(xml: string): any;
}
