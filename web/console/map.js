// The live federation map: this server, the remote hosts it has connections with and the remote
// domains they carry as nodes, each connection as an edge labelled with its level and
// authentication method, routes and links from the configuration dashed, domains with refusals
// in red. Updated by the server's event stream; laid out by a small force simulation (repulsion
// between nodes, springs along edges), positions kept across updates so nothing jumps.
import { bytes, el, table } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 900;
const HEIGHT = 560;
const positions = new Map();

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

/** Places new nodes near the centre (the server at it) and settles the layout. */
function layout(nodes, edges) {
  for (const node of nodes) {
    if (positions.has(node.id)) continue;
    const angle = Math.random() * 2 * Math.PI;
    positions.set(node.id, node.kind === 'server' ? { x: WIDTH / 2, y: HEIGHT / 2 } : { x: WIDTH / 2 + Math.cos(angle) * 150, y: HEIGHT / 2 + Math.sin(angle) * 150 });
  }
  const points = nodes.map((node) => positions.get(node.id));
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  for (let step = 0; step < 300; step++) {
    const forces = points.map(() => ({ x: 0, y: 0 }));
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        const dx = points[i].x - points[j].x || 0.01;
        const dy = points[i].y - points[j].y || 0.01;
        const distance2 = Math.max(dx * dx + dy * dy, 100);
        const push = 60000 / distance2;
        const distance = Math.sqrt(distance2);
        forces[i].x += (dx / distance) * push;
        forces[i].y += (dy / distance) * push;
        forces[j].x -= (dx / distance) * push;
        forces[j].y -= (dy / distance) * push;
      }
    }
    for (const edge of edges) {
      const a = index.get(edge.source);
      const b = index.get(edge.target);
      if (a === undefined || b === undefined || a === b) continue;
      const dx = points[b].x - points[a].x;
      const dy = points[b].y - points[a].y;
      const distance = Math.sqrt(dx * dx + dy * dy) || 1;
      const pull = (distance - (edge.kind === 'connection' ? 190 : 110)) * 0.05;
      forces[a].x += (dx / distance) * pull;
      forces[a].y += (dy / distance) * pull;
      forces[b].x -= (dx / distance) * pull;
      forces[b].y -= (dy / distance) * pull;
    }
    nodes.forEach((node, i) => {
      if (node.kind === 'server') return;
      points[i].x = Math.min(WIDTH - 60, Math.max(60, points[i].x + Math.max(-10, Math.min(10, forces[i].x))));
      points[i].y = Math.min(HEIGHT - 30, Math.max(30, points[i].y + Math.max(-10, Math.min(10, forces[i].y))));
    });
  }
}

function edgeLabel(edge) {
  if (edge.kind !== 'connection') return edge.label ?? '';
  const row = edge.connection;
  return `${row.direction === 'out' ? '→' : '←'} ${row.level ?? 'pending'} · ${row.authentication}`;
}

function drawMap(map, select) {
  layout(map.nodes, map.edges);
  const picture = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'map', 'data-testid': 'federation-map', role: 'img', 'aria-label': 'federation map' });
  // Several connections between the same two nodes (one each way) are drawn side by side.
  const seen = new Map();
  for (const edge of map.edges) {
    const a = positions.get(edge.source);
    const b = positions.get(edge.target);
    if (!a || !b) continue;
    const key = [edge.source, edge.target].sort().join(' ');
    const nth = seen.get(key) ?? 0;
    seen.set(key, nth + 1);
    const length = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const offset = nth === 0 ? 0 : (nth % 2 ? 1 : -1) * Math.ceil(nth / 2) * 16;
    const nx = (-(b.y - a.y) / length) * offset;
    const ny = ((b.x - a.x) / length) * offset;
    const level = edge.connection?.level ?? '';
    const group = svg('g', { class: `edge ${edge.kind} level-${level}`, 'data-edge': edge.id, tabindex: edge.connection ? 0 : undefined });
    group.append(svg('line', { x1: a.x + nx, y1: a.y + ny, x2: b.x + nx, y2: b.y + ny }));
    const text = svg('text', { x: (a.x + b.x) / 2 + nx, y: (a.y + b.y) / 2 + ny - 4, 'text-anchor': 'middle', class: 'edge-label' });
    text.textContent = edgeLabel(edge);
    group.append(text);
    if (edge.connection) {
      group.addEventListener('click', () => select(edge.connection));
      group.addEventListener('keydown', (event) => event.key === 'Enter' && select(edge.connection));
    }
    picture.append(group);
  }
  for (const node of map.nodes) {
    const point = positions.get(node.id);
    const classes = ['node', node.kind, node.refusals ? 'refused' : '', node.up === false ? 'down' : ''].join(' ');
    const group = svg('g', { class: classes, 'data-node': node.id, transform: `translate(${point.x},${point.y})` });
    group.append(svg('circle', { r: node.kind === 'server' ? 18 : 11 }));
    const text = svg('text', { y: node.kind === 'server' ? 34 : 25, 'text-anchor': 'middle' });
    text.textContent = node.refusals ? `${node.label} (${node.refusals} refused)` : node.label;
    group.append(text);
    picture.append(group);
  }
  return picture;
}

function connectionDetails(row) {
  const names = (list) => (list.length ? list.join(', ') : '—');
  return el('dl', { class: 'facts', 'data-testid': 'connection-details' },
    el('dt', {}, 'Connection'), el('dd', {}, `${row.id} (${row.direction === 'out' ? 'we opened it' : 'the peer opened it'}${row.bidi ? ', both ways (XEP-0288)' : ''})`),
    el('dt', {}, 'Remote'), el('dd', {}, `${row.remoteDomain ?? '?'} at ${row.remoteAddress}${row.remoteHost ? ` (${row.remoteHost})` : ''}`),
    el('dt', {}, 'Level'), el('dd', {}, row.level ?? 'not yet authenticated'),
    el('dt', {}, 'Authentication'), el('dd', {}, row.authentication),
    el('dt', {}, 'Certificate'), el('dd', {}, row.certificate),
    el('dt', {}, 'TLS'), el('dd', {}, row.tls ? `${row.tls.protocol}, ${row.tls.cipher}` : 'none'),
    el('dt', {}, 'Pairs'), el('dd', {}, row.pairs.length ? row.pairs.map((pair) => `${pair.local} ${pair.direction === 'out' ? '→' : '←'} ${pair.remote} (${pair.method}, ${pair.level})`).join('; ') : '—'),
    el('dt', {}, 'Names proven'), el('dd', {}, `certificate: ${names(row.serverNames)}; otherwise: ${names(row.delegatedNames)}`),
    el('dt', {}, 'Traffic'), el('dd', {}, `${row.stanzasIn} stanzas (${bytes(row.bytesIn)}) in, ${row.stanzasOut} (${bytes(row.bytesOut)}) out; idle ${row.idleSeconds} s; since ${row.connectedAt}`),
    el('dt', {}, 'Errors'), el('dd', { class: row.errorsIn + row.errorsOut > 0 ? 'errors' : '' }, `${row.errorsIn} error stanzas in, ${row.errorsOut} out`),
  );
}

export async function showFederation(page) {
  const picture = el('div', { class: 'map-frame' });
  const details = el('div', { class: 'details' }, el('p', { class: 'hint' }, 'Select a connection on the map for its details.'));
  const lists = el('div');
  const state = el('p', { class: 'hint', 'data-testid': 'map-state' }, 'connecting…');
  let selected;
  const select = (row) => {
    selected = row.id;
    details.replaceChildren(connectionDetails(row));
  };
  page.append(el('h2', {}, 'Federation'), state, el('div', { class: 'map-layout' }, picture, details), lists);

  const render = (map) => {
    picture.replaceChildren(drawMap(map, select));
    const connections = map.edges.filter((edge) => edge.kind === 'connection').map((edge) => edge.connection);
    const labels = new Map(map.nodes.map((node) => [node.id, node.label]));
    const current = connections.find((row) => row.id === selected);
    if (current) select(current);
    lists.replaceChildren(
      el('h3', {}, 'Connections'),
      table('connections', ['Direction', 'Remote', 'Level', 'Authentication', 'Certificate', 'TLS', 'Pairs', 'In / out', 'Errors in / out'], connections.map((row) => [row.direction, row.remoteDomain ?? row.remoteAddress, row.level ?? 'pending', row.authentication, row.certificate, row.tls?.protocol ?? 'none', row.domains.join(', '), `${row.stanzasIn} (${bytes(row.bytesIn)}) / ${row.stanzasOut} (${bytes(row.bytesOut)})`, `${row.errorsIn} / ${row.errorsOut}`])),
      el('h3', {}, 'Refused by policy'),
      map.alerts.length === 0 ? el('p', {}, 'none since the start') : table('alerts', ['Time', 'Domain', 'Direction', 'From', 'To', 'Rule', 'What'], map.alerts.slice(-20).reverse().map((alert) => [alert.time, alert.domain, alert.direction, alert.from, alert.to, alert.rule, alert.text])),
      el('h3', {}, 'Bounces and failed connections'),
      map.bounces.length + map.failedConnections.length === 0 ? el('p', {}, 'none since the start') : table('errors', ['What', 'Count'], [...map.bounces.map((row) => [`error reply: ${row.condition}`, row.count]), ...map.failedConnections.map((row) => [`connection failed: ${row.reason}`, row.count])]),
      el('h3', {}, 'Routes and links in the configuration'),
      table('routes', ['Domains', 'Route', 'To'], map.edges.filter((edge) => edge.kind === 'route' || edge.kind === 'link').map((edge) => [labels.get(edge.source) ?? edge.source, edge.label ?? '', labels.get(edge.target) ?? edge.target])),
    );
  };

  let counts = '';
  const events = new EventSource('/admin/api/events');
  events.addEventListener('counts', (event) => {
    const { c2s, s2s } = JSON.parse(event.data);
    counts = ` · ${s2s.connections} server connections (${s2s.incoming} in, ${s2s.outgoing} out), ${c2s.sessions} client sessions`;
  });
  events.addEventListener('federation', (event) => {
    state.textContent = `live, updated ${new Date().toLocaleTimeString()}${counts}`;
    render(JSON.parse(event.data));
  });
  events.addEventListener('error', () => {
    state.textContent = 'the live stream was interrupted; reconnecting…';
  });
  return () => events.close();
}
