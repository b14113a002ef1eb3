// Helpers for the messaging and gateway tests: signed-in accounts, channel grants through the test
// hooks, and a WebSocket client that records every frame and can wait for the ones a test expects.
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import WebSocket from 'ws';

export const DOMAIN = 'app.example.test';

/** Server flags every chat test needs: sign-in without a live chain, test hooks, loose HTTP limits. */
export const chatFlags = ['--test-hooks', '--siwe-domain', DOMAIN, '--chain', '31337=http://127.0.0.1:9',
  '--roles', 'api,gateway,worker', '--rate-limit', '100000', '--rate-burst', '100000',
  '--signin-rate-limit', '10000', '--signin-rate-burst', '10000', '--signin-address-rate-limit', '10000',
  '--signin-address-rate-burst', '10000', '--max-connections-per-ip', '5000', '--ws-max-sockets-per-account', '1000'];

export function client(server) {
  const api = (path, { method = 'GET', token, body } = {}) => fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });

  async function signIn(wallet = Wallet.createRandom()) {
    const { nonce } = await (await api('/v1/auth/nonce', { method: 'POST' })).json();
    const message = new SiweMessage({ domain: DOMAIN, address: wallet.address, statement: 'Sign in.', uri: `https://${DOMAIN}/login`,
      version: '1', chainId: 31337, nonce, issuedAt: new Date().toISOString() }).prepareMessage();
    const r = await api('/v1/auth/verify', { method: 'POST', body: { message, signature: await wallet.signMessage(message) } });
    assert.equal(r.status, 200, await r.clone().text());
    const { token } = await r.json();
    return { wallet, address: wallet.address, token };
  }

  async function grant(account, channelId, { read = true, post = true, moderate = false, role } = {}) {
    const r = await api('/v1/_test/channel-access', { method: 'POST', body: { account: account.address ?? account, channel_id: channelId, read, post, moderate, role } });
    assert.equal(r.status, 204, await r.text());
  }

  let counter = 0;
  async function post(account, channelId, body, extra = {}) {
    const r = await api(`/v1/channels/${channelId}/messages`, { method: 'POST', token: account.token,
      body: { body, client_id: `c${process.pid}-${++counter}`, ...extra } });
    const json = await r.json();
    assert.equal(r.status, 201, JSON.stringify(json));
    return json;
  }

  function connect(account, { query = '', headers } = {}) {
    const url = `${server.url.replace('http', 'ws')}/v1/ws${headers ? '' : `?token=${account.token}`}${query}`;
    return socket(new WebSocket(url, { headers, perMessageDeflate: false }));
  }

  return { api, signIn, grant, post, connect };
}

/** Wraps a ws client: frames are recorded in order; waitFor resolves when a predicate matches. */
export function socket(ws) {
  const frames = [];
  const waiters = [];
  let closed = null;
  const closedWaiters = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    frame.received_at = performance.now();
    frames.push(frame);
    for (const w of [...waiters]) {
      if (w.match(frame, frames)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(frame); }
    }
  });
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
    for (const w of closedWaiters) w(closed);
    for (const w of waiters) w.reject(new Error(`socket closed (${code} ${reason}) while waiting`));
  });
  ws.on('error', () => {});
  const s = {
    ws, frames,
    opened: new Promise((res, rej) => { ws.once('open', res); ws.once('unexpected-response', (_, r) => rej(Object.assign(new Error(`HTTP ${r.statusCode}`), { status: r.statusCode }))); ws.once('error', rej); }),
    get closed() { return closed; },
    send(frame) { ws.send(JSON.stringify(frame)); },
    waitFor(match, timeoutMs = 20_000) {
      const found = frames.find((f) => match(f, frames));
      if (found) return Promise.resolve(found);
      if (closed) return Promise.reject(new Error(`socket closed (${closed.code})`));
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`frame not seen; last frames: ${JSON.stringify(frames.slice(-3))}`)), timeoutMs);
        waiters.push({ match, resolve: (f) => { clearTimeout(t); resolve(f); }, reject: (e) => { clearTimeout(t); reject(e); } });
      });
    },
    waitClosed(timeoutMs = 20_000) {
      if (closed) return Promise.resolve(closed);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
        closedWaiters.push((c) => { clearTimeout(t); resolve(c); });
      });
    },
    messages(channelId) { return frames.filter((f) => f.type === 'message' && f.channel_id === channelId); },
    close() { ws.close(); },
  };
  return s;
}

/** Opens the socket, waits for hello, subscribes (or resumes) and waits for `subscribed`. */
export async function subscribed(s, channelId, resumeFrom) {
  await s.opened;
  await s.waitFor((f) => f.type === 'hello');
  if (resumeFrom === undefined) s.send({ type: 'subscribe', channel_ids: [channelId] });
  else s.send({ type: 'resume', channels: { [channelId]: resumeFrom } });
  return s.waitFor((f) => (f.type === 'subscribed' || f.type === 'error') && f.channel_id === channelId);
}

/** Asserts the seqs are exactly from..to, in order, once each. */
export function assertSeqs(messages, from, to, what = 'seqs') {
  const seqs = messages.map((m) => m.seq);
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  assert.deepEqual(seqs, expected, `${what}: got ${seqs.length} (${seqs.slice(0, 5)}…${seqs.slice(-5)})`);
}
