// The baseline of make bench-gateway: a minimal fan-out server on Node's `ws`, speaking the frames
// that bench/ws_load.cpp exchanges with gatehouse (hello, subscribe -> subscribed, message), so
// that the same load generator measures both. It does the least a real server would: no storage,
// no auth beyond taking the token, one JSON serialization per message shared by every socket.
//   node bench/ws_fanout_reference.mjs [PORT]   (prints {"msg":"listening","port":N})
import http from 'node:http';
import { WebSocketServer } from 'ws';

const channels = new Map(); // channel id -> { seq, sockets: Set }
const channel = (id) => {
  let c = channels.get(id);
  if (!c) channels.set(id, (c = { seq: 0, sockets: new Set() }));
  return c;
};

const server = http.createServer((req, res) => {
  const m = /^\/v1\/channels\/([^/]+)\/messages$/.exec(req.url);
  if (req.method !== 'POST' || !m) {
    res.writeHead(req.url === '/readyz' ? 200 : 404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const { body, client_id: clientId } = JSON.parse(Buffer.concat(chunks).toString());
    const c = channel(m[1]);
    const seq = ++c.seq;
    const now = new Date().toISOString();
    // The fields and order of gatehouse's message frame, so both send frames of the same size.
    const message = { id: `01JBENCHREFERENCE${String(seq).padStart(9, '0')}`, channel_id: m[1], seq,
      author: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', client_id: clientId, body, mentions: [],
      mention_roles: [], created_at: now, deleted: false, reactions: [], type: 'message' };
    const frame = Buffer.from(JSON.stringify(message));
    for (const ws of c.sockets) ws.send(frame, { binary: false });
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: message.id, seq, created_at: now }));
  });
});

const wss = new WebSocketServer({ server, path: '/v1/ws', perMessageDeflate: false });
wss.on('connection', (ws) => {
  const held = new Set();
  ws.send(JSON.stringify({ type: 'hello', session: 'reference' }));
  ws.on('message', (data) => {
    let frame;
    try { frame = JSON.parse(data.toString()); } catch { return; }
    if (frame.type !== 'subscribe' || !Array.isArray(frame.channel_ids)) return;
    for (const id of frame.channel_ids) {
      const c = channel(String(id));
      c.sockets.add(ws);
      held.add(c);
      ws.send(JSON.stringify({ type: 'subscribed', channel_id: String(id), seq: c.seq }));
    }
  });
  ws.on('close', () => { for (const c of held) c.sockets.delete(ws); });
  ws.on('error', () => {});
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }));
});
process.on('SIGTERM', () => process.exit(0));
