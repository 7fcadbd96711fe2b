/**
 * Ad-hoc commands (XEP-0050) on a host: the commands are disco items of the node
 * `http://jabber.org/protocol/commands` (section 2.2), listed only to those who may run them;
 * each runs in one step or in two (a form, then its submission), in a session with an id of its
 * own (section 3.4) that only its requester may continue. Sessions are bounded in number, per
 * requester and per host, and expire.
 */
import { randomBytes } from 'node:crypto';
import type { Jid } from '../../jid/jid.ts';
import type { Host } from '../../router/host.ts';
import { el, type Element } from '../../xml/element.ts';
import { NS_DATA_FORMS } from '../../xml/namespaces.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { findForm, readForm } from '../../muc/data-form.ts';

export const NS_COMMANDS = 'http://jabber.org/protocol/commands';

/** What a command step ends with: a form to fill in (the session goes on), or the end. */
export type CommandOutcome =
  | { status: 'executing'; form: Element }
  | { status: 'completed'; note?: { type: 'info' | 'warn' | 'error'; text: string }; result?: Element };

export interface AdhocCommand {
  node: string;
  /** the label clients show (section 2.2) */
  name: string;
  /** the first step: a form, or the outcome at once */
  start(requester: Jid): CommandOutcome | Promise<CommandOutcome>;
  /** the submitted form's values by field, for a command whose first step was a form */
  submit?(requester: Jid, values: Map<string, string[]>): CommandOutcome | Promise<CommandOutcome>;
}

export interface CommandLimits {
  /** sessions one requester (full JID) may have open */
  perRequester: number;
  /** sessions open on the host */
  total: number;
  /** milliseconds a session lasts without being completed */
  lifetimeMs: number;
}

const DEFAULT_LIMITS: CommandLimits = { perRequester: 8, total: 256, lifetimeMs: 10 * 60_000 };

interface CommandSession {
  node: string;
  requester: string;
  expires: number;
}

/**
 * Registers the commands on `host`: its disco node and the `<command/>` IQ. `mayRun` decides
 * who sees and runs each command (forbidden for anyone else, section 4.6).
 */
export function serveCommands(host: Host, commands: readonly AdhocCommand[], mayRun: (requester: Jid, command: AdhocCommand) => boolean, limits: CommandLimits = DEFAULT_LIMITS, now: () => number = Date.now): void {
  const byNode = new Map(commands.map((command) => [command.node, command]));
  const sessions = new Map<string, CommandSession>();

  host.discoFeatures.add(NS_COMMANDS);
  // Section 2.2: the list, with the identity automation/command-list; the responder need not
  // list the same commands to everyone: each sees those it may run.
  host.discoNodes.set(NS_COMMANDS, {
    info: () => ({ identities: [{ category: 'automation', type: 'command-list' }], features: [] }),
    items: (from) => commands.filter((command) => mayRun(from, command)).map(({ node, name }) => ({ jid: host.domain, node, name })),
  });
  // Section 2.2: a command node's own information.
  for (const command of commands) {
    host.discoNodes.set(command.node, {
      info: (from) => {
        if (!mayRun(from, command)) throw new StanzaError('forbidden', 'you may not run this command');
        return { identities: [{ category: 'automation', type: 'command-node', name: command.name }], features: [NS_COMMANDS, NS_DATA_FORMS] };
      },
      items: () => [],
    });
  }

  host.handleIq('host', 'set', NS_COMMANDS, 'command', async ({ payload, from }) => {
    const node = payload.attrs.node ?? '';
    const command = byNode.get(node);
    if (!command) throw new StanzaError('item-not-found', `no command ${JSON.stringify(node)} here`);
    if (!mayRun(from, command)) throw new StanzaError('forbidden', 'you may not run this command');
    const action = payload.attrs.action ?? 'execute';
    if (!ACTIONS.has(action)) throw commandError('malformed-action', `unknown action ${JSON.stringify(action)}`);
    const requester = from.toString();
    expire(sessions, now());

    const sessionId = payload.attrs.sessionid;
    if (sessionId === undefined) {
      if (action !== 'execute') throw commandError('bad-action', `a command starts with execute, not ${action}`);
      const outcome = await command.start(from);
      if (outcome.status === 'completed') return answer(node, newSessionId(node), outcome);
      const open = [...sessions.values()].filter((session) => session.requester === requester).length;
      if (open >= limits.perRequester) throw new StanzaError('resource-constraint', `you have ${open} commands open; complete or cancel one first`);
      if (sessions.size >= limits.total) throw new StanzaError('resource-constraint', 'too many commands are open on this server; try again later');
      const id = newSessionId(node);
      sessions.set(id, { node, requester, expires: now() + limits.lifetimeMs });
      return answer(node, id, outcome);
    }

    // Section 3.4: a session is valid only between its requester and this host, for its command.
    const session = sessions.get(sessionId);
    if (!session || session.requester !== requester || session.node !== node) throw commandError('bad-sessionid', 'no such command session: it was completed, canceled or has expired');
    if (action === 'cancel') {
      sessions.delete(sessionId);
      return el('command', NS_COMMANDS, { node, sessionid: sessionId, status: 'canceled' });
    }
    if (action === 'prev') throw commandError('bad-action', 'this command has no earlier stage');
    // Section 4.4: the form comes back submitted (a form of type cancel counts as submitted).
    const form = findForm(payload);
    if (!form || !command.submit) throw commandError('bad-payload', 'submit the form this command sent');
    sessions.delete(sessionId);
    return answer(node, sessionId, await command.submit(from, readForm(form)));
  });
}

const ACTIONS = new Set(['execute', 'cancel', 'prev', 'next', 'complete']);

/** Section 3.2: the command's answer; a step with a form offers one action, complete. */
function answer(node: string, sessionid: string, outcome: CommandOutcome): Element {
  const command = el('command', NS_COMMANDS, { node, sessionid, status: outcome.status });
  if (outcome.status === 'executing') {
    command.append(el('actions', NS_COMMANDS, { execute: 'complete' }, el('complete', NS_COMMANDS)));
    command.append(outcome.form);
    return command;
  }
  if (outcome.note) command.append(el('note', NS_COMMANDS, { type: outcome.note.type }, outcome.note.text));
  if (outcome.result) command.append(outcome.result);
  return command;
}

/** Section 4.6: bad-request with the command's own condition. */
function commandError(condition: 'malformed-action' | 'bad-action' | 'bad-payload' | 'bad-sessionid', text: string): StanzaError {
  const error = new StanzaError('bad-request', text);
  error.appCondition = el(condition, NS_COMMANDS);
  return error;
}

function newSessionId(node: string): string {
  return `${node.slice(node.lastIndexOf('#') + 1)}:${randomBytes(9).toString('base64url')}`;
}

function expire(sessions: Map<string, CommandSession>, at: number): void {
  for (const [id, session] of sessions) if (session.expires <= at) sessions.delete(id);
}
