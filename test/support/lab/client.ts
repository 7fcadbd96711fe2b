/**
 * Runs xmpp-client.py: logs accounts in on the lab's peers and exchanges chat messages between
 * them, so a test can show that two servers federate.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { C2S_PORT } from './peer.ts';

/** Debian's python3-slixmpp is installed for the system interpreter only. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./xmpp-client.py', import.meta.url));

export interface LabAccount {
  jid: string;
  password: string;
  /** address of the server to log in to */
  host: string;
  port?: number;
  /** CA bundle that the server's certificate is checked against */
  caFile: string;
}

export interface LabMessage {
  from: string;
  to: string;
  body: string;
}

export interface ExchangeResult {
  ok: boolean;
  received: LabMessage[];
  error?: string;
}

/** Resolves once every message was received by its bare `to` JID, or with ok false. */
export async function exchangeMessages(accounts: LabAccount[], messages: LabMessage[], timeoutSeconds = 20): Promise<ExchangeResult> {
  const spec = {
    accounts: accounts.map(({ jid, password, host, port, caFile }) => ({ jid, password, host, port: port ?? C2S_PORT, ca_file: caFile })),
    messages,
    timeout: timeoutSeconds,
  };
  return new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, JSON.stringify(spec)], { timeout: (timeoutSeconds + 10) * 1000 }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ExchangeResult);
      } catch {
        resolve({ ok: false, received: [], error: `${error?.message ?? 'no result'}\n${stderr}` });
      }
    });
  });
}
