// Signing in and the live feed's life, as both pages do it: the token from the
// URL fragment or the sign-in dialog (api.js keeps it in sessionStorage), a
// Sign out button, the feed (re)started with the stored token, and a 401 from
// any REST call or a refused feed bringing the dialog back.
import { setToken, setUnauthorizedHandler, token } from './api.js';
import { LiveFeed } from './live.js';

const BADGE_TEXT = { connecting: 'connecting', live: 'live', reconnecting: 'reconnecting', signed_out: 'signed out', closed: 'offline' };

export function showBadge(badge, state) {
  badge.dataset.state = state;
  badge.textContent = BADGE_TEXT[state] || state;
}

// feedOptions: LiveFeed's (bbox, layers, onSnapshot, onDelta) without token and
// onState; clear(): drop what the page shows (on Sign out); setBadge(state)
// gets the feed's states. Returns { start, signIn(why), feed() }.
export function wireSession({ why, feedOptions, clear, setBadge }) {
  let feed = null;
  const stopFeed = () => {
    if (feed) feed.stop();
    feed = null;
  };
  const start = () => {
    const t = token();
    if (!t) return setBadge('signed_out');
    document.getElementById('sign-out').hidden = false;
    stopFeed();
    feed = new LiveFeed({ ...feedOptions, token: t, onState: setBadge });
    feed.start();
  };
  const signIn = (reason) => {
    const dlg = document.getElementById('sign-in');
    document.getElementById('sign-in-why').textContent = reason || why;
    if (!dlg.open) dlg.showModal();
  };
  document.getElementById('sign-in-form').addEventListener('submit', () => {
    const t = document.getElementById('sign-in-token').value.trim();
    if (!t) return;
    setToken(t);
    start();
  });
  document.getElementById('sign-out').addEventListener('click', () => {
    setToken(null);
    stopFeed();
    clear();
    setBadge('signed_out');
  });
  setUnauthorizedHandler(() => {
    stopFeed();
    setBadge('signed_out');
  });
  return { start, signIn, feed: () => feed };
}
