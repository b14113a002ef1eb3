// End-to-end encrypted messaging through the real binary, on SQLite and PostgreSQL, with the
// reference MLS client (lib/mls-client.mjs, on ts-mls): key packages checked by the server, DMs
// and groups, two accounts with two devices each exchanging 200 messages, offline catch-up, a
// device added later, a device removed, concurrent commits, a group of 100 members, consent, and
// no plaintext or private key anywhere in the database or the logs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { startServer, freshDatabase, backends } from './lib/harness.mjs';
import { startAnvil } from './lib/anvil.mjs';
import { socket } from './lib/chat.mjs';
import WebSocket from 'ws';
import { MlsDevice, ApiError, XWING_SUITE } from './lib/mls-client.mjs';

const DOMAIN = 'app.example.test';

for (const backend of backends()) {
  describe(`e2e (${backend})`, () => {
    let anvil, db, server;
    before(async () => {
      anvil = await startAnvil();
      db = freshDatabase(backend);
      server = await startServer([...db.flags, '--chain', `31337=${anvil.url}`, '--siwe-domain', DOMAIN,
        '--log-level', 'debug', '--access-log',
        '--signin-rate-limit', '1000', '--signin-rate-burst', '1000', '--signin-address-rate-limit', '1000',
        '--signin-address-rate-burst', '1000', '--rate-limit', '10000', '--rate-burst', '10000',
        '--key-fetch-rate-limit', '1000', '--key-fetch-rate-burst', '1000',
        '--key-fetch-target-rate-limit', '1000', '--key-fetch-target-rate-burst', '1000',
        '--e2e-post-rate-limit', '1000', '--e2e-post-rate-burst', '1000']);
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, `server exit ${JSON.stringify(stopped)}: ${server.stderr.slice(-4000)}`);
      anvil.stop();
      db.drop();
    });

    async function signIn(wallet = Wallet.createRandom()) {
      const { nonce } = await (await fetch(`${server.url}/v1/auth/nonce`, { method: 'POST' })).json();
      const message = new SiweMessage({
        domain: DOMAIN, address: wallet.address, statement: 'Sign in to gatehouse.', uri: `https://${DOMAIN}/login`,
        version: '1', chainId: 31337, nonce, issuedAt: new Date().toISOString(),
      }).prepareMessage();
      const r = await fetch(`${server.url}/v1/auth/verify`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message, signature: await wallet.signMessage(message) }),
      });
      assert.equal(r.status, 200);
      const { token } = await r.json();
      return { token, address: wallet.address, wallet };
    }
    const device = (account, opts = {}) => new MlsDevice({ url: server.url, token: account.token, address: account.address, ...opts });
    // Alice and Bob, one device each (registered with `register`), in a group Alice created and
    // Bob has joined.
    async function aliceAndBobInAGroup(register = undefined) {
      const alice = await signIn();
      const bob = await signIn();
      const a = await device(alice).register(register);
      const b = await device(bob).register(register);
      const g = await a.createGroup({ members: [bob.address] });
      await b.acceptWelcomes();
      return { alice, bob, a, b, g };
    }
    async function rejects(promise, status, code) {
      await assert.rejects(promise, (e) => {
        assert.ok(e instanceof ApiError, String(e));
        assert.equal(e.status, status, e.message);
        assert.equal(e.code, code, e.message);
        return true;
      });
    }

    test('key packages from ts-mls are accepted (suite 1 and X-Wing) and each broken one refused by name', async () => {
      const alice = await signIn();
      const a = await device(alice).register({ count: 3 });
      const x = await device(alice, { suite: XWING_SUITE }).register({ count: 2 });
      const other = await signIn();
      const o = await device(other).register({ count: 1 });
      const keys = await o.api(`/v1/keys/${alice.address}`);
      assert.deepEqual(keys.devices.map((d) => d.device_id).sort(), [a.deviceId, x.deviceId].sort());
      assert.ok(keys.devices.every((d) => d.last_resort === false));
      // Another account's package, an expired one, one under another identity key: refused, named.
      const foreign = device(other);
      foreign.signatureKeys = a.signatureKeys;
      const forOther = await foreign.makeKeyPackage();
      await rejects(a.api(`/v1/devices/${a.deviceId}/key-packages`, { method: 'POST', body: { key_packages: [forOther] } }), 400, 'key_package_identity');
      const expired = await a.makeKeyPackage({ lifetime: { notBefore: 0n, notAfter: 1000n } });
      await rejects(a.api(`/v1/devices/${a.deviceId}/key-packages`, { method: 'POST', body: { key_packages: [expired] } }), 400, 'key_package_lifetime');
      const xs = await x.makeKeyPackage();
      await rejects(a.api(`/v1/devices/${a.deviceId}/key-packages`, { method: 'POST', body: { key_packages: [xs] } }), 400, 'key_package_signature_key');
      const truncated = Buffer.from(await a.makeKeyPackage(), 'base64').subarray(0, 40).toString('base64');
      await rejects(a.api(`/v1/devices/${a.deviceId}/key-packages`, { method: 'POST', body: { key_packages: [truncated] } }), 400, 'key_package_malformed');
      assert.equal(await a.replenish(2), 4);  // 3 - 1 handed out + 2
    });

    test('two accounts with two devices each exchange 200 messages; an offline device catches up in order', async () => {
      const alice = await signIn();
      const bob = await signIn();
      const [a1, a2] = [await device(alice).register(), await device(alice).register()];
      const [b1, b2] = [await device(bob).register(), await device(bob).register()];
      const dm = await a1.dm(bob.address);
      // A second create for the pair answers with the existing DM.
      assert.equal(await b1.dm(alice.address), dm);
      for (const d of [a2, b1, b2]) assert.deepEqual(await d.acceptWelcomes(), [dm]);
      const requests = (await b1.api('/v1/dms/requests')).requests;
      assert.deepEqual(requests.map((g) => g.group_id), [dm]);
      const sent = [];
      for (let i = 0; i < 200; i++) {
        const from = [a1, b1, a2][i % 3];
        const text = `message ${i} from ${from === b1 ? 'bob' : 'alice'}`;
        sent.push({ seq: await from.send(dm, text), text });
        if (i % 10 === 0) for (const d of [a1, a2, b1]) await d.receive(dm);
      }
      // Bob's second device was offline throughout: it reads everything now, in seq order.
      for (const d of [a1, a2, b1, b2]) await d.receive(dm);
      for (const d of [a1, a2, b1, b2]) {
        const got = d.received.filter((m) => m.groupId === dm);
        const own = sent.filter((s) => d.groups.get(dm).ownSeqs.has(s.seq));
        assert.equal(got.length + own.length, 200);
        assert.deepEqual([...got].sort((x, y) => x.seq - y.seq).map((m) => m.seq), got.map((m) => m.seq));
        for (const m of got) assert.equal(m.text, sent.find((s) => s.seq === m.seq).text);
      }
      // Bob wrote in the DM: that is consent, so it is no longer a request.
      assert.deepEqual((await b1.api('/v1/dms/requests')).requests, []);
      await b2.ack(dm);
    });

    test('a device added later is welcomed and reads what follows; a removed device reads nothing more', async () => {
      const alice = await signIn();
      const bob = await signIn();
      const a1 = await device(alice).register();
      const b1 = await device(bob).register();
      const g = await a1.createGroup({ members: [bob.address] });
      assert.deepEqual(await b1.acceptWelcomes(), [g]);
      await a1.send(g, 'before the new device');
      const b2 = await device(bob).register();
      // Any member brings the group's leaves in line with the accounts' devices.
      assert.ok(await b1.syncDevices(g));
      assert.deepEqual(await b2.acceptWelcomes(), [g]);
      await a1.send(g, 'after the new device');
      assert.deepEqual((await b2.receive(g)).map((m) => m.text), ['after the new device']);
      // Bob removes his first device: it reads nothing more at once, and its leaf goes.
      await b1.remove();
      await rejects(b1.receive(g), 403, 'unknown_device');
      await rejects(b1.api('/v1/welcomes'), 403, 'unknown_device');
      assert.ok(await a1.syncDevices(g));
      assert.equal(a1.leaves(g).length, 2);
      await a1.send(g, 'after the removal');
      assert.deepEqual((await b2.receive(g)).map((m) => m.text), ['after the removal']);
    });

    test('two members committing for the same epoch: one wins, the other recovers', async () => {
      const { alice, bob, a, b, g } = await aliceAndBobInAGroup();
      const pa = await a.prepareCommit(g);
      const pb = await b.prepareCommit(g);
      await a.postCommit(g, pa);
      await rejects(b.postCommit(g, pb), 409, 'stale_epoch');
      const info = await b.api(`/v1/groups/${g}`);
      assert.equal(info.epoch, 2);
      // Bob drops his commit, catches up and commits again; both go on talking.
      assert.ok(await b.syncDevices(g, { force: true }));
      await b.send(g, 'hello after the race');
      await a.send(g, 'hello back');
      await a.receive(g);
      await b.receive(g);
      assert.deepEqual(a.received.map((m) => m.text), ['hello after the race']);
      assert.deepEqual(b.received.map((m) => m.text), ['hello back']);
    });

    test('a group of 100 members works', async () => {
      const accounts = await Promise.all(Array.from({ length: 100 }, () => signIn()));
      const devices = [];
      for (const acc of accounts) devices.push(await device(acc).register({ count: 1, name: 'only' }));
      const g = await devices[0].createGroup({ members: accounts.slice(1).map((a) => a.address) });
      // Every member's device has its welcome queued. Joining is ts-mls verifying the whole
      // 100-leaf tree, about half a second of JavaScript per member: the members that speak or
      // read below join, the others' welcomes are checked at the server.
      const joiners = new Set([1, 57, 99]);
      for (const [i, d] of devices.entries()) {
        if (i === 0) continue;
        if (joiners.has(i)) assert.deepEqual(await d.acceptWelcomes(), [g]);
        else assert.deepEqual((await d.api('/v1/welcomes')).welcomes.map((w) => w.group_id), [g], `member ${i}`);
      }
      assert.equal(devices[0].leaves(g).length, 100);
      await devices[57].send(g, 'hello, hundred');
      await devices[0].send(g, 'hello back');
      for (const d of [devices[0], devices[1], devices[99]]) {
        await d.receive(g);
        const expected = d === devices[0] ? ['hello, hundred'] : ['hello, hundred', 'hello back'];
        assert.deepEqual(d.received.map((m) => m.text), expected);
      }
      const info = await devices[42].api(`/v1/groups/${g}`);
      assert.equal(info.members.length, 100);
    });

    test('over WebSocket: group messages arrive live in seq order and decrypt, welcomes reach the new device', async () => {
      const { alice, bob, a, b, g } = await aliceAndBobInAGroup();
      const open = (account, d) => socket(new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws?token=${account.token}&device_id=${d.deviceId}`, { perMessageDeflate: false }));
      const live = open(bob, b);
      await live.opened;
      await live.waitFor((f) => f.type === 'hello');
      live.send({ type: 'subscribe', group_ids: [g] });
      await live.waitFor((f) => f.type === 'subscribed' && f.group_id === g);
      const texts = Array.from({ length: 50 }, (_, i) => `live ${i}`);
      for (const t of texts) await a.send(g, t);
      const last = b.groups.get(g).lastSeq + texts.length;
      await live.waitFor((f) => f.type === 'group_message' && f.seq === last);
      const frames = live.frames.filter((f) => f.type === 'group_message' && f.group_id === g);
      assert.deepEqual(frames.map((f) => f.seq), Array.from({ length: texts.length }, (_, i) => last - texts.length + 1 + i));
      for (const f of frames) await b.process(g, f);
      assert.deepEqual(b.received.map((m) => m.text), texts);
      // A device of Bob's added while its socket is open gets its welcome as a frame.
      const b2 = await device(bob).register();
      const other = open(bob, b2);
      await other.opened;
      await other.waitFor((f) => f.type === 'hello');
      await a.syncDevices(g);
      const welcome = await other.waitFor((f) => f.type === 'welcome' && f.group_id === g);
      assert.ok(welcome.welcome.length > 0);
      // Removing that device closes its socket: it reads nothing more, live or over HTTP.
      await b2.remove();
      const ended = await other.waitClosed();
      assert.equal(ended.code, 4001);
      assert.equal(live.closed, null, "the account's other device keeps its socket");
      live.close();
    });

    test('a denied peer is not told, and its later messages never reach the recipient', async () => {
      const alice = await signIn();
      const bob = await signIn();
      const a = await device(alice).register();
      const b = await device(bob).register();
      const dm = await a.dm(bob.address);
      await b.acceptWelcomes();
      await a.send(dm, 'hi bob');
      assert.deepEqual((await b.receive(dm)).map((m) => m.text), ['hi bob']);
      const r = await b.api(`/v1/dms/${dm}/consent`, { method: 'POST', body: { state: 'denied' } });
      assert.equal(r.state, 'denied');
      await a.send(dm, 'are you there?');
      assert.deepEqual(await b.receive(dm), []);
      await rejects(b.api(`/v1/dms/${dm}/consent`, { method: 'POST', body: { state: 'maybe' } }), 400, 'invalid_field');
    });

    test('the server stores and logs no plaintext and no private key', async () => {
      const { alice, bob, a, b, g } = await aliceAndBobInAGroup({ count: 2 });
      const secrets = [`the launch code is ${crypto.randomUUID()}`, `meet at ${crypto.randomUUID()}`];
      await a.send(g, secrets[0]);
      await b.send(g, secrets[1]);
      await a.receive(g);
      assert.deepEqual(a.received.map((m) => m.text), [secrets[1]]);
      assert.deepEqual(b.received.map((m) => m.text), [secrets[0]]);
      const needles = [...secrets];
      for (const d of [a, b]) {
        needles.push(Buffer.from(d.signatureKeys.signKey).toString('hex'), Buffer.from(d.signatureKeys.signKey).toString('base64'));
        for (const kp of d.packages.values()) {
          for (const key of [kp.privatePackage.initPrivateKey, kp.privatePackage.hpkePrivateKey]) {
            needles.push(Buffer.from(key).toString('hex'), Buffer.from(key).toString('base64'));
          }
        }
      }
      let dump;
      if (backend === 'postgres') {
        const r = spawnSync('pg_dump', ['--data-only', db.url], { encoding: 'utf8', maxBuffer: 1 << 28 });
        assert.equal(r.status, 0, r.stderr);
        dump = r.stdout;
        assert.ok(dump.includes('e2e_messages'));
      } else {
        dump = readdirSync(db.dir).map((f) => readFileSync(join(db.dir, f)).toString('latin1')).join('\n');
      }
      assert.ok(dump.length > 0);
      const logs = JSON.stringify(server.lines) + server.stderr;
      for (const n of needles) {
        assert.ok(!dump.includes(n), `the database holds ${n.slice(0, 24)}…`);
        assert.ok(!logs.includes(n), `the logs hold ${n.slice(0, 24)}…`);
      }
    });
  });
}
