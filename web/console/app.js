// The console's pages, chosen by the address's fragment (#status, #hosts, #users, #sessions,
// #federation); the federation page keeps a live update stream open while it is shown.
import { logout, say } from './api.js';
import { showHosts, showSessions, showStatus, showUsers } from './pages.js';
import { showFederation } from './map.js';

const PAGES = { status: showStatus, hosts: showHosts, users: showUsers, sessions: showSessions, federation: showFederation };
let leave = () => {};

async function show() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : 'status';
  leave();
  leave = () => {};
  const page = document.getElementById('page');
  page.replaceChildren();
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('current', link.getAttribute('href') === `#${name}`);
  try {
    leave = (await PAGES[name](page)) ?? (() => {});
  } catch (error) {
    say(error.message, true);
  }
}

document.getElementById('logout').addEventListener('click', logout);
window.addEventListener('hashchange', show);
show();
