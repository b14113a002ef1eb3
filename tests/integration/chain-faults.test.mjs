// The indexer through the real binary while its JSON-RPC provider misbehaves: a loopback proxy in
// front of anvil answers every fifth request with HTTP 500, a dropped connection, or an answer slower
// than the client's attempt timeout (--chain-rpc-timeout-ms), and webhook
// deliveries arrive duplicated, reordered and 30% dropped. Nothing is lost and nothing applies
// twice: holdings equal balanceOf and the pipeline counts each log once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { ethers } from 'ethers';
import { backends, freshDatabase, runCommand, startServer, sleep, until } from './lib/harness.mjs';
import { startAnvil, contractArtifact, freePort } from './lib/anvil.mjs';

const signingKey = 'whsec_faults_test_key';
const wired = runCommand(['--help']).stdout?.includes('indexer');
const servers = [];
after(async () => { for (const s of servers) await s.stop('SIGKILL'); });

/** A proxy to `target` failing a share of requests; resolves { url, stats, close() }. */
async function faultyProxy(target, failureRate, slowMs) {
  // Failures cycle through an HTTP 500, a dropped connection and a slow answer (the node's real
  // answer, sent after `slowMs`, past the client's attempt timeout), the first being a 500: a
  // dropped connection on a reused keep-alive socket is retried by the client without counting as
  // a failed attempt, a 500 and a timed-out attempt always count.
  // slowPast: slow answers whose delay ran out (the client's attempt had timed out by then; one
  // still delayed when the metrics are read may not be counted yet).
  const stats = { requests: 0, forwarded: 0, failed: 0, http500: 0, slow: 0, slowPast: 0 };
  const port = await freePort();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      let delay = 0;
      // Every (1 / failureRate)th request fails, so that every kind of failure shows up however
      // few requests a run makes.
      if (stats.requests++ % Math.round(1 / failureRate) === 2) {
        const kind = stats.failed++ % 3;
        if (kind === 0) {
          stats.http500++;
          res.writeHead(500, { 'content-type': 'text/plain' }).end('injected failure');
          return;
        }
        if (kind === 1) {
          req.socket.destroy();
          return;
        }
        stats.slow++;
        delay = slowMs;
      }
      if (delay > 0) {
        await new Promise((r) => setTimeout(r, delay));
        stats.slowPast++;
      }
      try {
        const r = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const text = await r.text();
        stats.forwarded++;
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, stats, close: () => server.close() };
}

function shuffle(list) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

for (const backend of backends()) {
  test(`indexer on ${backend} with a failing provider and lossy webhooks: nothing lost, nothing twice`,
    { skip: !wired && 'no indexer command' }, async () => {
      const anvil = await startAnvil();
      const attemptTimeoutMs = 300;
      const proxy = await faultyProxy(anvil.url, 0.2, attemptTimeoutMs * 4);
      const db = freshDatabase(backend);
      try {
        const provider = new ethers.JsonRpcProvider(anvil.url, 31337, { staticNetwork: true });
        const deployer = new ethers.Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', provider);
        const art = contractArtifact('TestToken');
        const token = await new ethers.ContractFactory(art.abi, art.bytecode, deployer).deploy('Gate', 'GATE', 18, 10n ** 24n);
        await token.waitForDeployment();
        const tokenAddress = await token.getAddress();

        const server = await startServer([...db.flags, '--chain', `31337=${proxy.url}`, '--chain-confirmations', '31337=0',
          '--chain-contract', `31337:erc20:${tokenAddress}`, '--chain-rpc-timeout-ms', String(attemptTimeoutMs)], { env: { GATEHOUSE_ALCHEMY_SIGNING_KEY: signingKey } });
        servers.push(server);

        const recipients = Array.from({ length: 5 }, () => ethers.Wallet.createRandom().address);
        let nonce = await deployer.getNonce();
        const deliveries = [];
        for (let i = 0; i < 60; i++) {
          const tx = await token.transfer(recipients[i % recipients.length], BigInt(1 + i), { nonce: nonce++ });
          const receipt = await tx.wait();
          const log = receipt.logs[0];
          const body = JSON.stringify({ webhookId: 'wh', type: 'GRAPHQL', event: { network: 'ETH_MAINNET', data: { block: {
            hash: log.blockHash, number: log.blockNumber,
            logs: [{ data: log.data, topics: log.topics, index: log.index, account: { address: log.address },
                     transaction: { hash: log.transactionHash, index: log.transactionIndex } }] } } } });
          if (Math.random() < 0.3) continue;  // dropped
          deliveries.push(body);
          if (Math.random() < 0.5) deliveries.push(body);  // duplicated
        }
        for (const body of shuffle(deliveries)) {
          const r = await fetch(`${server.url}/v1/webhooks/alchemy?chain_id=31337`, { method: 'POST', body,
            headers: { 'content-type': 'application/json', 'x-alchemy-signature': createHmac('sha256', signingKey).update(body).digest('hex') } });
          assert.equal(r.status, 200, await r.text());
        }

        await until('the erc20 pipeline to count the mint and 60 transfers', async () => {
          const status = await (await fetch(`${server.url}/v1/indexer/status`)).json();
          const erc20 = status.chains[0]?.pipelines.find((p) => p.name === 'erc20');
          return erc20 && erc20.lag_blocks === 0 && erc20.logs_applied >= 61;
        }, 60_000, 200);
        const status = await (await fetch(`${server.url}/v1/indexer/status`)).json();
        assert.equal(status.chains[0].pipelines.find((p) => p.name === 'erc20').logs_applied, 61);
        for (const who of [...recipients, deployer.address]) {
          const expected = (await token.balanceOf(who)).toString();
          const body = await (await fetch(`${server.url}/v1/accounts/${who}/holdings`)).json();
          assert.equal(body.erc20.find((h) => h.contract === tokenAddress)?.amount, expected, who);
        }
        assert.ok(proxy.stats.failed > 0, 'the proxy injected no failure');
        assert.ok(proxy.stats.slow > 0, 'the proxy answered nothing too slowly');
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        const counted = metrics.match(/gatehouse_chain_rpc_failures_total\{chain="31337",endpoint="[^"]+"\} (\d+)/);
        assert.ok(counted, 'no rpc failure metric');
        const slowPast = proxy.stats.slowPast;
        assert.ok(Number(counted[1]) >= proxy.stats.http500 + slowPast,
          `${counted[1]} failed attempts counted, the proxy answered ${proxy.stats.http500} with HTTP 500 and ` +
          `${slowPast} past the attempt timeout`);
        assert.match(metrics, /gatehouse_chain_logs_applied_total\{chain="31337",pipeline="erc20"\} 61/);
      } finally {
        proxy.close();
        anvil.stop();
        db.drop();
      }
    });
}
