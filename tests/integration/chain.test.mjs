// The chain indexer through the real binary, on each backend: ERC-20 transfers made with ethers
// on a fresh anvil show up in GET /v1/accounts/{address}/holdings equal to balanceOf, the status
// endpoint and `gatehouse indexer status` report the pipelines, and the Alchemy webhook refuses a
// bad signature (401) and accepts a signed delivery whose logs then apply once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ethers } from 'ethers';
import { backends, freshDatabase, runCommand, startServer, sleep, until } from './lib/harness.mjs';
import { startAnvil, contractArtifact } from './lib/anvil.mjs';

const signingKey = 'whsec_integration_test_key';
const wired = runCommand(['--help']).stdout?.includes('indexer');
const servers = [];
after(async () => { for (const s of servers) await s.stop('SIGKILL'); });

for (const backend of backends()) {
  test(`indexer on ${backend}: holdings equal balanceOf, status, webhook`, { skip: !wired && 'no indexer command' }, async () => {
    const anvil = await startAnvil();
    const db = freshDatabase(backend);
    try {
      const provider = new ethers.JsonRpcProvider(anvil.url, 31337, { staticNetwork: true });
      const deployer = new ethers.Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', provider);
      const art = contractArtifact('TestToken');
      const factory = new ethers.ContractFactory(art.abi, art.bytecode, deployer);
      const token = await factory.deploy('Gate', 'GATE', 18, 10n ** 24n);
      await token.waitForDeployment();
      const tokenAddress = await token.getAddress();
      const recipients = [ethers.Wallet.createRandom().address, ethers.Wallet.createRandom().address];
      let nonce = await deployer.getNonce();
      for (let i = 0; i < 12; i++) {
        const tx = await token.transfer(recipients[i % 2], BigInt(1000 + i), { nonce: nonce++ });
        await tx.wait();
      }

      // The token was deployed in block 1: the indexer starts there.
      const server = await startServer([...db.flags, '--chain', `31337=${anvil.url}`, '--chain-confirmations', '31337=0',
        '--chain-start-block', '31337=1', '--chain-contract', `31337:erc20:${tokenAddress}`], { env: { GATEHOUSE_ALCHEMY_SIGNING_KEY: signingKey } });
      servers.push(server);

      for (const who of [recipients[0], recipients[1], deployer.address]) {
        const expected = (await token.balanceOf(who)).toString();
        await until(`holdings of ${who}`, async () => {
          const r = await fetch(`${server.url}/v1/accounts/${who.toLowerCase()}/holdings?chain_id=31337`);
          assert.equal(r.status, 200);
          const body = await r.json();
          assert.equal(body.address, who);
          const held = body.erc20.find((h) => h.contract === tokenAddress);
          return held && held.amount === expected;
        });
      }
      const status = await (await fetch(`${server.url}/v1/indexer/status`)).json();
      const chain = status.chains.find((c) => c.chain_id === 31337);
      assert.ok(chain, JSON.stringify(status));
      const erc20 = chain.pipelines.find((p) => p.name === 'erc20');
      assert.equal(erc20.logs_applied, 13);  // the mint and 12 transfers
      assert.equal(erc20.last_error, null);

      // The webhook: a bad signature is refused before anything is read.
      const logs = await provider.getLogs({ address: tokenAddress, fromBlock: 0, toBlock: 'latest' });
      const last = logs[logs.length - 1];
      const body = JSON.stringify({ webhookId: 'wh', type: 'GRAPHQL', event: { network: 'ETH_MAINNET', data: { block: {
        hash: last.blockHash, number: last.blockNumber,
        logs: [{ data: last.data, topics: last.topics, index: last.index,
                 account: { address: last.address }, transaction: { hash: last.transactionHash, index: last.transactionIndex } }],
      } } } });
      let r = await fetch(`${server.url}/v1/webhooks/alchemy?chain_id=31337`, { method: 'POST', body,
        headers: { 'content-type': 'application/json', 'x-alchemy-signature': 'ab'.repeat(32) } });
      assert.equal(r.status, 401);
      assert.equal((await r.json()).error.code, 'invalid_signature');
      const signature = createHmac('sha256', signingKey).update(body).digest('hex');
      for (let i = 0; i < 2; i++) {
        r = await fetch(`${server.url}/v1/webhooks/alchemy?chain_id=31337`, { method: 'POST', body,
          headers: { 'content-type': 'application/json', 'x-alchemy-signature': signature } });
        assert.equal(r.status, 200, await r.text());
      }
      // A log the poller already applied: nothing changes.
      const again = await (await fetch(`${server.url}/v1/indexer/status`)).json();
      assert.equal(again.chains[0].pipelines.find((p) => p.name === 'erc20').logs_applied, 13);

      // Reindex while the server serves: the projections come back equal, every log applied again once.
      // From the server's first block, without naming it here: a rebuild from the block it recorded.
      const reindex = runCommand(['indexer', 'reindex', '--chain-id', '31337', '--pipeline', 'erc20', '--from', '1', ...db.flags]);
      assert.equal(reindex.code, 0, reindex.stderr);
      assert.match(reindex.stdout, /cleared erc20 of chain 31337; the indexer replays from block 1\n/);
      await until('the replay after reindex', async () => {
        const s = await (await fetch(`${server.url}/v1/indexer/status`)).json();
        const p = s.chains[0].pipelines.find((x) => x.name === 'erc20');
        return p.lag_blocks === 0 && p.logs_applied >= 26;
      });
      for (const who of [recipients[0], recipients[1], deployer.address]) {
        const expected = (await token.balanceOf(who)).toString();
        const held = (await (await fetch(`${server.url}/v1/accounts/${who}/holdings`)).json()).erc20;
        assert.equal(held.find((h) => h.contract === tokenAddress)?.amount, expected, who);
      }

      await server.stop();
      const cli = runCommand(['indexer', 'status', ...db.flags]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^CHAIN\s+PIPELINE\s+CHECKPOINT/);
      assert.match(cli.stdout, /31337\s+erc20\s+\d+\s+\d+\s+0\s+\S+\s+26\s/);

      // A chain or pipeline no indexer of this database runs is refused, not queued for ever.
      const elsewhere = runCommand(['indexer', 'track', '--chain-id', '5', '--pipeline', 'erc20', '--address', tokenAddress, ...db.flags]);
      assert.equal(elsewhere.code, 2, elsewhere.stdout);
      assert.match(elsewhere.stderr, /no indexer of this database runs erc20 on chain 5/);
      assert.equal(runCommand(['indexer', 'reindex', '--chain-id', '5', '--from', '1', ...db.flags]).code, 2);
      const tracked = runCommand(['indexer', 'track', '--chain-id', '31337', '--pipeline', 'erc20', '--address', recipients[0], ...db.flags]);
      assert.equal(tracked.code, 0, tracked.stderr);
      assert.match(runCommand(['indexer', 'status', ...db.flags]).stdout, new RegExp(recipients[0].toLowerCase()));
    } finally {
      anvil.stop();
      db.drop();
    }
  });
}
