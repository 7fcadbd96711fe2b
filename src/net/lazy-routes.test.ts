/**
 * Routes imported at their first request, on a real HTTP listener (plain HTTP on loopback): the
 * loader runs once however many requests come first, requests and upgrades reach the loaded
 * routes, and a loader that fails gives an error answer while the listener keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { defaultConfig } from '../config/load.ts';
import { silentLogger } from '../util/log.ts';
import { HttpListener, sendText, type HttpRoute } from './http-listener.ts';
import { lazyRoutes } from './lazy-routes.ts';

const logger = silentLogger();

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    }).on('error', reject).end();
  });
}

/** Sends an upgrade request and returns the first thing the server writes back. */
async function upgrade(port: number, path: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nafter`);
  const [data] = await once(socket, 'data');
  socket.destroy();
  return String(data);
}

test('a lazy route loads once, at its first request, then serves requests and upgrades', async () => {
  const http = new HttpListener({ ...defaultConfig('/tmp').http, addresses: ['127.0.0.1'], port: 0, tls: false }, logger);
  let loads = 0;
  const load = async (): Promise<HttpRoute[]> => {
    loads++;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return [
      { path: '/a/', request: (request, response) => sendText(response, 200, `a ${request.url}`) },
      { path: '/b', request: (_request, response) => sendText(response, 200, 'b') },
      { path: '/b', upgrade: (_request, socket, head) => void socket.end(`upgraded ${head}`) },
    ];
  };
  for (const route of lazyRoutes('request', ['/a/', '/b'], load, logger)) http.route(route);
  for (const route of lazyRoutes('upgrade', ['/b'], load, logger)) http.route(route);
  for (const route of lazyRoutes('request', ['/broken'], () => Promise.reject(new Error('no such module')), logger)) http.route(route);
  for (const route of lazyRoutes('upgrade', ['/broken-upgrade'], () => Promise.reject(new Error('no such module')), logger)) http.route(route);
  const [{ port }] = await http.listen(undefined);
  try {
    assert.equal(loads, 0, 'nothing is loaded before a request');
    const answers = await Promise.all([get(port!, '/a/x'), get(port!, '/b'), get(port!, '/a/y')]);
    assert.deepEqual(answers.map((answer) => answer.body), ['a /a/x\n', 'b\n', 'a /a/y\n']);
    assert.equal(loads, 1, 'requests that came together share one load');
    assert.equal(await upgrade(port!, '/b'), 'upgraded after');
    assert.equal(loads, 2, 'the upgrade routes have their own loader');
    assert.equal((await get(port!, '/broken')).status, 500);
    assert.match(await upgrade(port!, '/broken-upgrade'), /^HTTP\/1\.1 503 /);
    assert.equal((await get(port!, '/b')).body, 'b\n', 'the listener keeps serving');
  } finally {
    await http.close();
  }
});
