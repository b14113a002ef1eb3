// Token-gated communities through the real binary on a fresh anvil, on each backend, with real
// SIWE sign-ins: a gate over every leaf kind (erc20, erc721 with ids, erc1155, staked) under all,
// any and at_least refuses a wallet with the unmet leaves, admits it once it holds; a role gated
// on a balance opens a role-restricted channel; sending tokens away takes the role, then the
// community (the time from the confirming block to the revocation is measured and printed);
// tokens back restore both; a reorg that undoes a transfer undoes its effect on membership.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers, Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { backends, freshDatabase, startServer, sleep, until } from './lib/harness.mjs';
import { startAnvil, contractArtifact } from './lib/anvil.mjs';

const DOMAIN = 'app.example.test';
const servers = [];
after(async () => { for (const s of servers) await s.stop('SIGKILL'); });

async function deploy(deployer, name, ...args) {
  const art = contractArtifact(name);
  const c = await new ethers.ContractFactory(art.abi, art.bytecode, deployer).deploy(...args);
  await c.waitForDeployment();
  return c;
}

for (const backend of backends()) {
  test(`token-gated community on ${backend}: join, follow holdings, reorg`, async () => {
    const anvil = await startAnvil();
    const db = freshDatabase(backend);
    try {
      const provider = new ethers.JsonRpcProvider(anvil.url, 31337, { staticNetwork: true, cacheTimeout: -1 });
      const deployer = new ethers.NonceManager(
        new Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', provider));
      const token = await deploy(deployer, 'TestToken', 'Gate', 'GATE', 18, 10n ** 24n);
      const nft = await deploy(deployer, 'TestNFT', 'Pass', 'PASS', 'https://example.test/');
      const multi = await deploy(deployer, 'TestMultiToken', 'https://example.test/{id}');
      const staking = await deploy(deployer, 'Staking', await token.getAddress());
      const [tokenAddr, nftAddr, multiAddr, stakingAddr] = await Promise.all(
        [token, nft, multi, staking].map((c) => c.getAddress()));

      const server = await startServer([...db.flags, '--siwe-domain', DOMAIN, '--chain', `31337=${anvil.url}`,
        '--chain-confirmations', '31337=0']);
      servers.push(server);
      const api = async (path, { method = 'GET', token: bearer, body } = {}) => {
        const r = await fetch(`${server.url}${path}`, {
          method,
          headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : null };
      };
      const signIn = async (wallet) => {
        const { nonce } = (await api('/v1/auth/nonce', { method: 'POST' })).body;
        const message = new SiweMessage({
          domain: DOMAIN, address: wallet.address, statement: 'Sign in to gatehouse.', uri: `https://${DOMAIN}/login`,
          version: '1', chainId: 31337, nonce, issuedAt: new Date().toISOString(),
        }).prepareMessage();
        const r = await api('/v1/auth/verify', { method: 'POST', body: { message, signature: await wallet.signMessage(message) } });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.token;
      };

      const admin = Wallet.createRandom();
      const holder = Wallet.createRandom().connect(provider);
      const sink = Wallet.createRandom().address;
      const adminToken = await signIn(admin);
      const holderToken = await signIn(holder);

      const leaf20 = (min) => ({ erc20: { chain_id: 31337, contract: tokenAddr, min: String(min) } });
      const gate = { all: [
        leaf20(100),
        { any: [
          { erc721: { chain_id: 31337, contract: nftAddr.toLowerCase(), token_ids: ['1'] } },
          { erc1155: { chain_id: 31337, contract: multiAddr, token_id: '7', min: '5' } },
        ] },
        { at_least: 1, of: [
          { staked: { chain_id: 31337, contract: stakingAddr, min: '50' } },
          leaf20(10n ** 30n),
        ] },
      ] };
      // A bad gate names the path of its bad node.
      let r = await api('/v1/communities', { method: 'POST', token: adminToken,
        body: { name: 'Holders', slug: 'holders', gate: { all: [leaf20(1), { erc1155: { chain_id: 31337, contract: multiAddr } }] } } });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, 'invalid_gate');
      assert.match(r.body.error.message, /^gate\.all\[1\]\.erc1155\.token_id: /);

      r = await api('/v1/communities', { method: 'POST', token: adminToken, body: { name: 'Holders', slug: 'holders', gate } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const community = r.body.id;
      assert.equal(r.body.gate.all[1].any[0].erc721.contract, nftAddr);  // rendered checksummed
      r = await api(`/v1/communities/${community}/roles`, { method: 'POST', token: adminToken,
        body: { name: 'whale', permissions: [], gate: leaf20(500) } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      r = await api(`/v1/communities/${community}/channels`, { method: 'POST', token: adminToken, body: { name: 'whales', roles: ['whale'] } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const whales = r.body.id;

      // Nothing held: every branch fails and says what is missing.
      r = await api(`/v1/communities/${community}/join`, { method: 'POST', token: holderToken });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'gate_not_satisfied');
      const unmet = r.body.error.unmet;
      assert.deepEqual(unmet.map((u) => u.path),
        ['gate.all[0]', 'gate.all[1].any[0]', 'gate.all[1].any[1]', 'gate.all[2].of[0]', 'gate.all[2].of[1]']);
      assert.deepEqual(unmet.map((u) => u.kind), ['erc20', 'erc721', 'erc1155', 'staked', 'erc20']);
      assert.deepEqual(unmet[0], { path: 'gate.all[0]', kind: 'erc20', chain_id: 31337, contract: tokenAddr, required: '100', held: '0' });

      // Give the holder gas, tokens, the 1155s and a stake (but not the NFT: any[] passes on the 1155s).
      await (await deployer.sendTransaction({ to: holder.address, value: 10n ** 18n })).wait();
      await (await token.transfer(holder.address, 1000n)).wait();
      await (await multi.mint(holder.address, 7n, 4n)).wait();
      const holderToken20 = token.connect(holder);
      await (await holderToken20.approve(stakingAddr, 100n)).wait();
      await (await staking.connect(holder).stake(100n)).wait();
      r = await api(`/v1/communities/${community}/join`, { method: 'POST', token: holderToken });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body.error.unmet.map((u) => [u.path, u.required, u.held]),
        [['gate.all[1].any[0]', '1', '0'], ['gate.all[1].any[1]', '5', '4']]);
      await (await multi.mint(holder.address, 7n, 1n)).wait();
      r = await api(`/v1/communities/${community}/join`, { method: 'POST', token: holderToken });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.you.member, true);
      assert.ok(r.body.you.roles.includes('whale'));  // 900 left after staking 100
      assert.equal((await api(`/v1/channels/${whales}`, { token: holderToken })).status, 200);

      const isMember = async () => (await api('/v1/communities', { token: holderToken })).body.communities.some((c) => c.id === community);
      const seesWhales = async () => (await api(`/v1/channels/${whales}`, { token: holderToken })).status === 200;

      // 600 away: 300 left keeps the community (100) but not the whale role (500) and its channel.
      await (await holderToken20.transfer(sink, 600n)).wait();
      await until('the whale role to go', async () => !(await seesWhales()));
      assert.equal(await isMember(), true);

      // The rest away: removed. Timed from the block that confirms it (confirmations are 0 here).
      const receipt = await (await holderToken20.transfer(sink, 300n)).wait();
      const minedAt = Date.now();
      await until('the removal', async () => !(await isMember()));
      console.log(`# ${backend}: membership revoked ${Date.now() - minedAt} ms after block ${receipt.blockNumber}`);
      r = await api(`/v1/communities/${community}/channels`, { token: holderToken });
      assert.equal(r.status, 403);

      // Tokens back: the community, the role and the role-gated channel come back.
      await (await token.transfer(holder.address, 1000n)).wait();
      await until('the membership to come back', isMember);
      await until('the whale channel to come back', seesWhales);

      // A reorg that undoes a transfer undoes its effect.
      const snapshot = await provider.send('evm_snapshot', []);
      await (await holderToken20.transfer(sink, 1000n)).wait();
      await until('the removal before the reorg', async () => !(await isMember()));
      assert.equal(await provider.send('evm_revert', [snapshot]), true);
      for (let i = 0; i < 3; i++) await provider.send('evm_mine', []);
      assert.equal(await token.balanceOf(holder.address), 1000n);
      await until('the membership after the reorg', isMember);
      await until('the whale channel after the reorg', seesWhales);

      const members = await api(`/v1/communities/${community}/members?limit=1`, { token: adminToken });
      assert.equal(members.status, 200);
      assert.equal(members.body.members.length, 1);
      assert.ok(members.body.next_cursor);
      const rest = await api(`/v1/communities/${community}/members?limit=1&cursor=${members.body.next_cursor}`, { token: adminToken });
      assert.equal(rest.body.members.length, 1);
      assert.equal(rest.body.next_cursor, null);
      assert.deepEqual([members.body.members[0].address, rest.body.members[0].address].sort(), [admin.address, holder.address].sort());
    } finally {
      anvil.stop();
      db.drop();
    }
  });
}
