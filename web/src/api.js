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

// JSON in and out with the bearer token; a non-2xx answer throws ApiError with
// the server's stable code ({"error":{"code","message"}}).
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
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
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const e = new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText);
    if (res.status === 401) onUnauthorized(e);
    throw e;
  }
  return data;
}
