/**
 * Node's `node:http` as its CommonJS exports. An ES `import` of `node:http` builds the module's
 * whole namespace, which reads its lazy `WebSocket`, `MessageEvent` and `CloseEvent` exports and
 * so loads and compiles Node's bundled fetch/WebSocket client (undici, about 760 KB of source)
 * that the server never uses: 2–3 MB of resident memory in every process that serves HTTP.
 */
export const http: typeof import('node:http') = process.getBuiltinModule('node:http');
