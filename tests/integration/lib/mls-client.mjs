// The reference MLS client of gatehouse, on ts-mls (RFC 9420): one object per device. It holds the
// device's private keys and group states in memory and talks to the server's key directory and
// delivery service over HTTP (API.md "Devices and keys", "E2E messaging"): device keys and key
// packages (with replenishment and a last-resort package), DMs and groups, adding and removing
// devices and member accounts (a group's leaves follow GET /v1/groups/{id}/devices), sending,
// receiving and processing in seq order, welcomes, and recovery from 409 stale_epoch (catch up,
// then redo the commit or resend). Shared by the integration tests and, later, the web client.
import {
  createApplicationMessage, createCommit, createGroup, decodeMlsMessage, defaultCapabilities, defaultLifetime,
  emptyPskIndex, encodeMlsMessage, acceptAll, generateKeyPackageWithKey, getCiphersuiteFromName,
  getCiphersuiteImpl, joinGroup, processMessage,
} from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';

export const DEFAULT_SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
export const XWING_SUITE = 'MLS_256_XWING_AES256GCM_SHA512_Ed25519';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const equalBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const suites = new Map();

async function suiteImpl(name) {
  if (!suites.has(name)) suites.set(name, await getCiphersuiteImpl(getCiphersuiteFromName(name)));
  return suites.get(name);
}

/** An error answer of the server, with its status, code and details. */
export class ApiError extends Error {
  constructor(status, body) {
    super(`${status} ${body?.error?.code}: ${body?.error?.message}`);
    this.status = status;
    this.code = body?.error?.code;
    this.details = body?.error ?? {};
  }
}

/** One device of one account. */
export class MlsDevice {
  constructor({ url, token, address, suite = DEFAULT_SUITE }) {
    this.url = url;
    this.token = token;
    this.address = address;
    this.suite = suite;
    this.deviceId = null;
    this.groups = new Map();     // group id (base64url) -> { state, lastSeq, ownSeqs: Set }
    this.packages = new Map();   // key package ref (hex) -> { publicPackage, privatePackage, lastResort }
    this.received = [];          // { groupId, seq, sender, text }
  }

  /** Calls the API as this device; throws ApiError on an error status. */
  async api(path, { method = 'GET', body } = {}) {
    const headers = { authorization: `Bearer ${this.token}` };
    if (this.deviceId) headers['x-device-id'] = this.deviceId;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    const parsed = text ? JSON.parse(text) : null;
    if (r.status >= 400) throw new ApiError(r.status, parsed);
    return parsed;
  }

  async cs() { return suiteImpl(this.suite); }

  /** A fresh key package signed with this device's identity key: its base64 MLSMessage. */
  async makeKeyPackage({ lastResort = false, lifetime = defaultLifetime } = {}) {
    const cs = await this.cs();
    const credential = { credentialType: 'basic', identity: new TextEncoder().encode(this.address) };
    const kp = await generateKeyPackageWithKey(credential, defaultCapabilities(), lifetime, [], this.signatureKeys, cs);
    const ref = hex(await makeKeyPackageRef(kp.publicPackage, cs.hash));
    this.packages.set(ref, { ...kp, lastResort });
    return b64(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: kp.publicPackage }));
  }

  /** Makes the device's keys and the body of POST /v1/devices (not sent). */
  async registrationBody({ name = 'device', count = 10, push = { provider: 'none' } } = {}) {
    const cs = await this.cs();
    this.signatureKeys ??= await cs.signature.keygen();
    this.identityKey = b64(this.signatureKeys.publicKey);
    const keyPackages = [];
    for (let i = 0; i < count; i++) keyPackages.push(await this.makeKeyPackage());
    const lastResort = await this.makeKeyPackage({ lastResort: true });
    return { name, push, identity_key: this.identityKey, key_packages: keyPackages, last_resort_key_package: lastResort };
  }

  /** Makes the device's keys and registers it with `count` key packages and a last-resort one. */
  async register(options = {}) {
    const r = await this.api('/v1/devices', { method: 'POST', body: await this.registrationBody(options) });
    this.deviceId = r.device_id;
    return this;
  }

  /** Uploads `count` more key packages; returns how many the server holds. */
  async replenish(count) {
    const keyPackages = [];
    for (let i = 0; i < count; i++) keyPackages.push(await this.makeKeyPackage());
    const r = await this.api(`/v1/devices/${this.deviceId}/key-packages`, { method: 'POST', body: { key_packages: keyPackages } });
    return r.key_packages;
  }

  /** Creates a group (or a DM with one peer) and adds every device of its member accounts. */
  async createGroup({ kind = 'group', members = [] } = {}) {
    const cs = await this.cs();
    const groupIdBytes = crypto.getRandomValues(new Uint8Array(16));
    const groupId = b64url(groupIdBytes);
    await this.api('/v1/groups', { method: 'POST', body: { group_id: b64(groupIdBytes), kind, members } });
    const own = await this.ownLeafPackage();
    const state = await createGroup(groupIdBytes, own.publicPackage, own.privatePackage, [], cs);
    this.groups.set(groupId, { state, lastSeq: 0, ownSeqs: new Set() });
    await this.syncDevices(groupId, { addMembers: members });
    return groupId;
  }

  /** A DM with `peer`: the existing one when the server says it exists (joined by its welcome). */
  async dm(peer) {
    try {
      return await this.createGroup({ kind: 'dm', members: [peer] });
    } catch (e) {
      if (e.code !== 'dm_exists') throw e;
      return e.details.group_id;
    }
  }

  // A key package for this device's own leaf in a group it creates (never uploaded).
  async ownLeafPackage() {
    const cs = await this.cs();
    const credential = { credentialType: 'basic', identity: new TextEncoder().encode(this.address) };
    return generateKeyPackageWithKey(credential, defaultCapabilities(), defaultLifetime, [], this.signatureKeys, cs);
  }

  leaves(groupId) {
    const tree = this.groups.get(groupId).state.ratchetTree;
    const out = [];
    for (let i = 0; i < tree.length; i += 2) {
      if (tree[i]?.nodeType === 'leaf') out.push({ index: i / 2, signatureKey: tree[i].leaf.signaturePublicKey });
    }
    return out;
  }

  /**
   * Makes the group's leaves match the devices of its member accounts (GET /v1/groups/{id}/devices):
   * adds the missing devices with key packages from the directory, removes leaves of deleted
   * devices and of `removeMembers`, and adds `addMembers`' devices. One commit; retried after a
   * stale_epoch. Returns the commit's seq, or null when nothing had to change.
   */
  async syncDevices(groupId, { addMembers = [], removeMembers = [], force = false } = {}) {
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.receive(groupId);
      const cs = await this.cs();
      const group = this.groups.get(groupId);
      const listed = (await this.api(`/v1/groups/${groupId}/devices`)).devices;
      const removed = new Set(removeMembers.map((a) => a.toLowerCase()));
      const wanted = listed.filter((d) => !removed.has(d.account.toLowerCase()));
      const leaves = this.leaves(groupId);
      const have = (key) => leaves.some((l) => equalBytes(l.signatureKey, unb64(key)));
      const proposals = [];
      const welcomeDevices = [];
      // Key packages for the accounts joining and those with a device that has no leaf yet.
      // (Accounts joining give all their devices; members only those without a leaf yet, so the
      // directory hands out no key package that is not used.)
      const needing = new Map(addMembers.map((a) => [a.toLowerCase(), null]));
      for (const d of wanted) {
        const a = d.account.toLowerCase();
        if (have(d.identity_key) || d.device_id === this.deviceId || (needing.has(a) && needing.get(a) === null)) continue;
        needing.set(a, [...(needing.get(a) ?? []), d.device_id]);
      }
      for (const [a, only] of needing) {
        const query = only === null ? '' : `?devices=${only.join(',')}`;
        const devices = (await this.api(`/v1/keys/${a}${query}`)).devices;
        for (const d of devices) {
          if (d.device_id === this.deviceId || have(d.identity_key)) continue;
          const message = decodeMlsMessage(unb64(d.key_package), 0)?.[0];
          if (message?.wireformat !== 'mls_key_package') continue;
          proposals.push({ proposalType: 'add', add: { keyPackage: message.keyPackage } });
          welcomeDevices.push(d.device_id);
        }
      }
      const keep = new Set(wanted.map((d) => d.identity_key));
      const own = b64(this.signatureKeys.publicKey);
      for (const l of leaves) {
        const key = b64(l.signatureKey);
        if (key !== own && !keep.has(key)) proposals.push({ proposalType: 'remove', remove: { removed: l.index } });
      }
      if (proposals.length === 0 && addMembers.length === 0 && removeMembers.length === 0 && !force) return null;
      const result = await createCommit({ state: group.state, cipherSuite: cs },
        { extraProposals: proposals, ratchetTreeExtension: true });
      const body = {
        message: b64(encodeMlsMessage(result.commit)),
        client_id: `commit-${crypto.randomUUID()}`,
        add_members: addMembers,
        remove_members: removeMembers,
      };
      if (result.welcome && welcomeDevices.length > 0) {
        const welcome = b64(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: result.welcome }));
        body.welcomes = [{ device_ids: welcomeDevices, welcome }];
      }
      try {
        return await this.postCommit(groupId, { body, newState: result.newState });
      } catch (e) {
        if (e.code !== 'stale_epoch') throw e;
        // Another member's commit won this epoch: drop ours, catch up, and decide again.
        this.staleEpochs = (this.staleEpochs ?? 0) + 1;
      }
    }
    throw new Error('could not commit after 10 attempts');
  }

  /** A commit that changes no membership (a key update), built but not posted. */
  async prepareCommit(groupId) {
    await this.receive(groupId);
    const cs = await this.cs();
    const result = await createCommit({ state: this.groups.get(groupId).state, cipherSuite: cs }, { ratchetTreeExtension: true });
    return { body: { message: b64(encodeMlsMessage(result.commit)), client_id: `commit-${crypto.randomUUID()}` }, newState: result.newState };
  }

  /** Posts a built commit; the group's state moves on only when the server accepts it. */
  async postCommit(groupId, { body, newState }) {
    const { seq } = await this.api(`/v1/groups/${groupId}/messages`, { method: 'POST', body });
    const group = this.groups.get(groupId);
    group.state = newState;
    group.ownSeqs.add(seq);
    return seq;
  }

  /** Encrypts `text` for the group and posts it; returns its seq. Recovers from stale_epoch. */
  async send(groupId, text) {
    const cs = await this.cs();
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.receive(groupId);
      const group = this.groups.get(groupId);
      const made = await createApplicationMessage(group.state, new TextEncoder().encode(text), cs);
      const message = b64(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: made.privateMessage }));
      try {
        const { seq } = await this.api(`/v1/groups/${groupId}/messages`, { method: 'POST', body: { message, client_id: crypto.randomUUID() } });
        group.state = made.newState;
        group.ownSeqs.add(seq);
        return seq;
      } catch (e) {
        if (e.code !== 'stale_epoch') throw e;
      }
    }
    throw new Error('could not send after 10 attempts');
  }

  /** Fetches and processes the group's messages in seq order; returns the texts received. */
  async receive(groupId) {
    const cs = await this.cs();
    const group = this.groups.get(groupId);
    const texts = [];
    for (;;) {
      const { messages } = await this.api(`/v1/groups/${groupId}/messages?after_seq=${group.lastSeq}&limit=100`);
      for (const m of messages) {
        const entry = await this.process(groupId, m);
        if (entry) texts.push(entry);
      }
      if (messages.length < 100) break;
    }
    return texts;
  }

  /**
   * Processes one message of a group's log (an HTTP read or a live `group_message` frame) that
   * must be the next in seq order; returns the decrypted text entry for application messages.
   */
  async process(groupId, m) {
    const cs = await this.cs();
    const group = this.groups.get(groupId);
    if (m.seq !== group.lastSeq + 1 && m.seq <= group.lastSeq) throw new Error(`seq ${m.seq} out of order after ${group.lastSeq}`);
    let entry = null;
    if (!group.ownSeqs.has(m.seq) && !m.withheld) {
      const decoded = decodeMlsMessage(unb64(m.message), 0)[0];
      const result = await processMessage(decoded, group.state, emptyPskIndex, acceptAll, cs);
      group.state = result.newState;
      if (result.kind === 'applicationMessage') {
        entry = { groupId, seq: m.seq, sender: m.sender, senderDevice: m.sender_device, text: new TextDecoder().decode(result.message) };
        this.received.push(entry);
      }
    }
    group.lastSeq = m.seq;
    return entry;
  }

  /** Acknowledges what the device processed in a group. */
  async ack(groupId) {
    await this.api(`/v1/groups/${groupId}/ack`, { method: 'POST', body: { seq: this.groups.get(groupId).lastSeq } });
  }

  /** Joins every group a queued welcome is for; returns their ids. */
  async acceptWelcomes() {
    const cs = await this.cs();
    const joined = [];
    const { welcomes } = await this.api('/v1/welcomes');
    for (const w of welcomes) {
      const decoded = decodeMlsMessage(unb64(w.welcome), 0)[0];
      const refs = decoded.welcome.secrets.map((s) => hex(s.newMember));
      const ref = refs.find((r) => this.packages.has(r));
      if (ref !== undefined && !this.groups.has(w.group_id)) {
        const kp = this.packages.get(ref);
        const state = await joinGroup(decoded.welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, cs);
        this.groups.set(w.group_id, { state, lastSeq: w.seq, ownSeqs: new Set() });
        if (!kp.lastResort) this.packages.delete(ref);
        joined.push(w.group_id);
      }
      await this.api(`/v1/welcomes/${w.id}`, { method: 'DELETE' });
    }
    return joined;
  }

  /** Deletes this device at the server. */
  async remove() {
    await this.api(`/v1/devices/${this.deviceId}`, { method: 'DELETE' });
  }
}
