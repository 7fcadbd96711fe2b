/** The admin API as the CLI (or any local tool) calls it: one request over the unix socket. */
import { request } from 'node:http';

export interface AdminAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Nothing listens on the socket: no server runs with this configuration. */
export class AdminUnavailableError extends Error {
  readonly socketPath: string;
  constructor(socketPath: string, reason: string) {
    super(`no running server found: nothing answers on ${socketPath} (${reason})`);
    this.socketPath = socketPath;
  }
}

const TIMEOUT_MS = 10_000;

export type AdminMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export function adminRequest(socketPath: string, method: AdminMethod, path: string, timeoutMs = TIMEOUT_MS): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ socketPath, method, path, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`the server did not answer on ${socketPath} within ${timeoutMs / 1000} s`)));
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(new AdminUnavailableError(socketPath, 'no such socket'));
      else if (error.code === 'ECONNREFUSED') reject(new AdminUnavailableError(socketPath, 'connection refused; the socket is stale'));
      else if (error.code === 'EACCES') reject(new Error(`permission denied on ${socketPath}; run this as the user the server runs as`));
      else reject(error);
    });
    outgoing.end();
  });
}

/** A JSON answer with status 2xx, else an Error carrying the API's `{error}` message. */
export async function adminJson<T>(socketPath: string, method: AdminMethod, path: string, timeoutMs?: number): Promise<T> {
  const answer = await adminRequest(socketPath, method, path, timeoutMs);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new Error(`the admin API answered ${method} ${path} with status ${answer.status} and no JSON`);
  }
  if (answer.status < 200 || answer.status > 299) {
    const message = typeof body === 'object' && body !== null && 'error' in body ? String(body.error) : `status ${answer.status}`;
    throw new AdminApiError(answer.status, message);
  }
  return body as T;
}

export class AdminApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}
