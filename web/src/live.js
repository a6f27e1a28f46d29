// The live feed (SPEC section 6): one WebSocket to /api/v1/live, hello with the
// token, bbox and layers; snapshot replaces everything, deltas upsert. Reconnects
// with capped exponential backoff and jitter; a policy close (1008) before the
// first snapshot means the token was refused: signed out, no retry.
const LAYERS = ['units', 'incidents', 'alerts'];

export class LiveFeed {
  // handlers: onSnapshot(msg), onDelta(msg), onState(state) with state in
  // connecting | live | reconnecting | signed_out | closed. `layers` picks what
  // the server sends (default all three).
  constructor({ token, bbox, onSnapshot, onDelta, onState, layers = LAYERS }) {
    this.token = token;
    this.layers = layers;
    this.bbox = bbox;
    this.onSnapshot = onSnapshot;
    this.onDelta = onDelta;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.state = 'connecting';
    this.seq = 0;
    this.messages = 0;
    this.deltas = 0;
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/api/v1/live`;
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState(s);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setState('closed');
  }

  connect() {
    clearTimeout(this.timer);
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      return this.retry();
    }
    this.ws = ws;
    let gotSnapshot = false;
    ws.onopen = () => {
      ws.send(JSON.stringify({ op: 'hello', token: this.token, bbox: this.bbox(), layers: this.layers }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.messages++;
      if (typeof msg.seq === 'number') this.seq = msg.seq;
      if (msg.type === 'snapshot') {
        gotSnapshot = true;
        this.attempt = 0;
        this.onSnapshot(msg);
        this.setState('live');
      } else if (msg.type === 'delta') {
        this.deltas++;
        this.onDelta(msg);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 1008 && !gotSnapshot) {
        this.setState('signed_out');
        return;
      }
      this.retry();
    };
  }

  retry() {
    this.attempt++;
    this.setState('reconnecting');
    const base = Math.min(15000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // The map moved: the server narrows the feed to the new window.
  viewport(bbox) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.state === 'live')
      this.ws.send(JSON.stringify({ op: 'viewport', bbox }));
  }
}
