// The console's pages apart from the federation map: server status, hosts, users and sessions.
import { api, bytes, el, say, table } from './api.js';

export async function showStatus(page) {
  const status = await api('GET', 'status');
  const listeners = Object.entries(status.listeners).filter(([, addresses]) => addresses.length > 0);
  page.append(
    el('h2', {}, 'Server status'),
    el('dl', { class: 'facts', 'data-testid': 'status' },
      el('dt', {}, 'Version'), el('dd', {}, status.version),
      el('dt', {}, 'Up since'), el('dd', {}, `${status.startedAt} (${Math.round(status.uptimeSeconds / 60)} min)`),
      el('dt', {}, 'Federation'), el('dd', {}, status.federation),
      el('dt', {}, 'Client sessions'), el('dd', {}, `${status.c2s.sessions} (${status.c2s.connections} connections)`),
      el('dt', {}, 'Server connections'), el('dd', {}, `${status.s2s.connections}: ${status.s2s.incoming} in, ${status.s2s.outgoing} out`),
      listeners.map(([name, addresses]) => [el('dt', {}, `Listening: ${name}`), el('dd', {}, addresses.join(', '))]),
    ),
    status.components.length === 0 ? '' : [el('h3', {}, 'Components'), table('components', ['Domain', 'Connected', 'Address', 'Stanzas in / out', 'Bounced'], status.components.map((row) => [row.domain, row.connected ? 'yes' : 'no', row.address ?? '', `${row.stanzasIn} / ${row.stanzasOut}`, row.bounced]))],
    status.cluster === undefined ? '' : [el('h3', {}, 'Cluster nodes'), table('cluster', ['Node', 'Incarnation', 'State', 'Addresses', 'Sessions', 'Last heartbeat', 'Federates with'], status.cluster.map((row) => [row.self ? `${row.name} (this node)` : row.name, row.incarnation, row.state, row.addresses.join(', '), row.sessions, row.lastHeartbeat ?? 'never', row.federates.join(', ')]))],
  );
}

export async function showHosts(page) {
  const { hosts } = await api('GET', 'hosts');
  page.append(
    el('h2', {}, 'Hosts'),
    table('hosts', ['Domain', 'Accounts', 'Sessions', 'Group chat'], hosts.map((host) => [host.domain, host.accounts, host.sessions, host.services.map((service) => `${service.service}: ${service.rooms} rooms, ${service.occupants} occupants`).join('; ')])),
  );
}

export async function showUsers(page) {
  const results = el('div');
  const search = el('input', { name: 'q', type: 'search', placeholder: 'part of an address', 'aria-label': 'search users' });
  const refresh = async () => {
    const { users, total, truncated } = await api('GET', `users?q=${encodeURIComponent(search.value)}`);
    results.replaceChildren(
      el('p', {}, `${total} account${total === 1 ? '' : 's'}${truncated ? ` (the first ${users.length} shown)` : ''}`),
      table('users', ['Account', 'Online', ''], users.map((user) => [user.jid, user.online ? 'yes' : '', el('span', {}, el('button', { type: 'button', 'data-action': 'password', onclick: () => resetPassword(user.jid) }, 'Reset password'), ' ', el('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: () => removeUser(user.jid) }, 'Delete'))])),
    );
  };
  const resetPassword = async (jid) => {
    const password = prompt(`New password for ${jid}`);
    if (!password) return;
    await run(() => api('POST', `users/${encodeURIComponent(jid)}/password`, { password }), `password changed for ${jid}`);
  };
  const removeUser = async (jid) => {
    if (!confirm(`Delete ${jid} and everything stored for it? Its sessions end.`)) return;
    const answer = await run(() => api('DELETE', `users/${encodeURIComponent(jid)}`), `deleted ${jid}`);
    if (answer) await refresh();
  };
  const addForm = el('form', { class: 'inline', 'data-testid': 'add-user' },
    el('input', { name: 'account', placeholder: 'user@domain', required: true, 'aria-label': 'new account' }),
    el('input', { name: 'password', type: 'password', placeholder: 'password', required: true, autocomplete: 'new-password', 'aria-label': 'new password' }),
    el('button', { type: 'submit' }, 'Add user'));
  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = new FormData(addForm);
    const answer = await run(() => api('POST', 'users', { account: fields.get('account'), password: fields.get('password') }), `created ${fields.get('account')}`);
    if (answer) {
      addForm.reset();
      await refresh();
    }
  });
  const searchForm = el('form', { class: 'inline' }, search, el('button', { type: 'submit' }, 'Search'));
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    refresh();
  });
  page.append(el('h2', {}, 'Users'), addForm, searchForm, results);
  await refresh();
}

export async function showSessions(page) {
  const list = el('div');
  const refresh = async () => {
    const { sessions } = await api('GET', 'sessions');
    list.replaceChildren(
      el('p', {}, `${sessions.length} session${sessions.length === 1 ? '' : 's'}`),
      table('sessions', ['Address', 'From', 'TLS', 'Connected', 'Idle', 'In / out', ''], sessions.map((session) => [
        session.jid, session.address, session.tls ? session.tls.protocol : 'none', session.connectedAt, `${session.idleSeconds} s`, `${bytes(session.bytesIn)} / ${bytes(session.bytesOut)}`,
        el('button', { type: 'button', class: 'danger', 'data-action': 'disconnect', onclick: () => disconnect(session.jid) }, 'Disconnect'),
      ])),
    );
  };
  const disconnect = async (jid) => {
    if (await run(() => api('DELETE', `sessions/${encodeURIComponent(jid)}`), `disconnected ${jid}`)) await refresh();
  };
  page.append(el('h2', {}, 'Sessions'), el('button', { type: 'button', onclick: refresh }, 'Refresh'), list);
  await refresh();
}

/** Runs an operation and says how it went; the answer, or undefined when it failed. */
async function run(operation, done) {
  try {
    const answer = await operation();
    say(done);
    return answer;
  } catch (error) {
    say(error.message, true);
    return undefined;
  }
}
