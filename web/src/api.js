// The token and the REST helper. The token arrives in the URL fragment
// (#token=..., never sent to the server in a request line or logs) or from the
// sign-in form, lives in sessionStorage (gone when the tab closes) and is
// removed from the visible URL at once.
const KEY = 'patrolmap.token';

export function takeTokenFromUrl() {
  const frag = new URLSearchParams(location.hash.slice(1));
  const t = frag.get('token');
  if (t) {
    sessionStorage.setItem(KEY, t.trim());
    frag.delete('token');
    const rest = frag.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  return sessionStorage.getItem(KEY);
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t.trim());
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

// One request with the bearer token; a non-2xx answer throws ApiError with the
// server's stable code ({"error":{"code","message"}}). Returns the answer's text.
async function request(path, { method = 'GET', body, signal, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the server (${e.message})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let err = {};
    try {
      err = JSON.parse(text).error || {};
    } catch {
      err = {};
    }
    const e = new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText);
    if (res.status === 401) onUnauthorized(e);
    throw e;
  }
  return text;
}

// JSON in and out with the bearer token.
export async function api(path, options = {}) {
  const text = await request(path, options);
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// A file from the API (a CSV export) saved through a blob: the token travels in
// the Authorization header, never in a URL the browser could keep or show.
export async function downloadFile(path, filename, accept = 'text/csv') {
  const text = await request(path, { accept });
  const url = URL.createObjectURL(new Blob([text], { type: accept }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return text.length;
}
