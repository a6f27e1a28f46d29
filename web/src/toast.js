// Short messages in the corner; errors carry the server's stable code.
const box = () => document.getElementById('toasts');

export function toast(text, kind = 'info', ms = 6000) {
  const el = document.createElement('div');
  el.className = `toast toast-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
  box().appendChild(el);
  setTimeout(() => el.remove(), ms);
  return el;
}

export function toastError(e, what) {
  const code = e && e.code ? e.code : 'error';
  const msg = e && e.message ? e.message : String(e);
  return toast(`${what ? what + ': ' : ''}${msg} [${code}]`, 'error', 9000);
}
