// @xmpp/client ships no type declarations; the tests use a small part of it.
declare module '@xmpp/client' {
  export function client(options: Record<string, unknown>): any;
  export function xml(name: string, attrs?: Record<string, string>, ...children: unknown[]): any;
}
