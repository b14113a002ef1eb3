// The indexer through the real binary, on each backend, killed with SIGKILL at random points of a
// long backfill (9,000 ERC-20 transfers committed in ranges of 2 blocks), several
// times: after a final restart the holdings equal balanceOf and the pipeline counts every log
// exactly once. Then a contract added with `gatehouse indexer track` while the server runs is
// backfilled by the running indexer and ends equal to balanceOf too.
// A soak (`make soak`), not part of make test: it takes minutes per backend, and it failed 2 of
// 9 runs while it was written (one SQLite run counted 8,701 of 9,001 logs: one 2-block range
// missing from the count; the cause is not found yet, see src/chain/README.md).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { backends, freshDatabase, runCommand, startServer, sleep } from './lib/harness.mjs';
import { startAnvil, contractArtifact } from './lib/anvil.mjs';

const wired = runCommand(['indexer', 'track', '--help']).stdout?.includes('--from-block');
const servers = [];
after(async () => { for (const s of servers) await s.stop('SIGKILL'); });

// One multisend per block; the indexer's ranges are held to 2 blocks (--chain-max-log-span), so the
// backfill commits some 30 ranges of up to 2 x PER_BATCH logs each.
const BATCHES = 60;
const PER_BATCH = 150;

async function until(what, check, timeoutMs = 120_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function erc20Status(server) {
  try {
    const status = await (await fetch(`${server.url}/v1/indexer/status`)).json();
    return status.chains.find((c) => c.chain_id === 31337)?.pipelines.find((p) => p.name === 'erc20');
  } catch {
    return undefined;
  }
}

/** The erc20 row of `gatehouse indexer status` (server stopped): { checkpoint, head, logs }. */
function cliStatus(flags) {
  const r = runCommand(['indexer', 'status', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  const m = r.stdout.match(/^31337\s+erc20\s+(-?\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s/m);
  if (!m) return { checkpoint: -1, head: 0, logs: 0 };
  return { checkpoint: Number(m[1]), head: Number(m[2]), logs: Number(m[3]) };
}

async function holdingsOf(server, who) {
  const body = await (await fetch(`${server.url}/v1/accounts/${who}/holdings?chain_id=31337`)).json();
  return body.erc20;
}

for (const backend of backends()) {
  test(`indexer on ${backend}: SIGKILL during a long backfill, restart, every log applied exactly once`,
    { skip: !wired && 'no indexer track command', timeout: 600_000 }, async () => {
      const anvil = await startAnvil();
      const db = freshDatabase(backend);
      try {
        const provider = new ethers.JsonRpcProvider(anvil.url, 31337, { staticNetwork: true });
        const deployer = new ethers.Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', provider);
        const tokenArt = contractArtifact('TestToken');
        const senderArt = contractArtifact('MultiSender');
        let nonce = await deployer.getNonce();
        const token = await new ethers.ContractFactory(tokenArt.abi, tokenArt.bytecode, deployer)
          .deploy('Gate', 'GATE', 18, 10n ** 30n, { nonce: nonce++ });
        const late = await new ethers.ContractFactory(tokenArt.abi, tokenArt.bytecode, deployer)
          .deploy('Late', 'LATE', 18, 10n ** 24n, { nonce: nonce++ });
        const multi = await new ethers.ContractFactory(senderArt.abi, senderArt.bytecode, deployer).deploy({ nonce: nonce++ });
        await Promise.all([token.waitForDeployment(), late.waitForDeployment(), multi.waitForDeployment()]);
        const tokenAddress = await token.getAddress();
        const lateAddress = await late.getAddress();
        await (await token.approve(await multi.getAddress(), ethers.MaxUint256, { nonce: nonce++ })).wait();

        const recipients = Array.from({ length: 400 }, () => ethers.getAddress(ethers.hexlify(ethers.randomBytes(20))));
        for (let b = 0; b < BATCHES; b++) {
          const to = Array.from({ length: PER_BATCH }, () => recipients[Math.floor(Math.random() * recipients.length)]);
          const amounts = to.map(() => BigInt(1 + Math.floor(Math.random() * 1e9)));
          await (await multi.multiSend(tokenAddress, to, amounts, `batch ${b}`, { nonce: nonce++, gasLimit: 25_000_000 })).wait();
          if (b % 4 === 0) await (await late.transfer(recipients[b], BigInt(1000 + b), { nonce: nonce++ })).wait();
        }
        const expectedLogs = 1 + BATCHES * PER_BATCH;  // the mint, then every transfer
        const head = await provider.getBlockNumber();

        const flags = [...db.flags, '--chain', `31337=${anvil.url}`, '--chain-confirmations', '31337=0',
          '--chain-contract', `31337:erc20:${tokenAddress}`, '--chain-max-log-span', '2'];
        let midBackfill = 0;
        const kills = [];
        let last = { checkpoint: -1, logs: 0 };
        for (let kill = 0; kill < 5; kill++) {
          const server = await startServer(flags);
          servers.push(server);
          // Wait for this process to apply something, then kill it at a random moment.
          const progressed = await until('progress after a restart', async () => {
            const p = await erc20Status(server);
            return p && (p.logs_applied > last.logs || p.checkpoint >= head) ? p : undefined;
          }, 60_000, 10);
          if (progressed.checkpoint >= head) { await server.stop('SIGKILL'); break; }
          await sleep(Math.floor(Math.random() * 150));
          await server.stop('SIGKILL');
          const now = cliStatus(db.flags);
          assert.ok(now.checkpoint >= last.checkpoint, 'the checkpoint never goes back');
          assert.ok(now.logs <= expectedLogs, `${now.logs} logs counted, only ${expectedLogs} exist`);
          if (now.checkpoint < head) midBackfill++;
          kills.push(now);
          last = now;
        }
        assert.ok(midBackfill >= 2, `only ${midBackfill} kills landed during the backfill`);

        const server = await startServer(flags);
        servers.push(server);
        const done = await until('the backfill to finish', async () => {
          const p = await erc20Status(server);
          return p && p.checkpoint >= head ? p : undefined;
        });
        // Balances first, then the count, so that a failure says whether logs were lost or miscounted.
        const wrong = [];
        for (const who of [...new Set(recipients), deployer.address]) {
          const expected = (await token.balanceOf(who)).toString();
          const held = (await holdingsOf(server, who)).find((h) => h.contract === tokenAddress);
          if ((held?.amount ?? '0') !== expected) wrong.push(`${who}: ${held?.amount ?? '0'} != ${expected}`);
        }
        const history = `kills: ${JSON.stringify(kills)}; head ${head}`;
        assert.deepEqual(wrong, [], `balances differ from balanceOf (${history})`);
        assert.equal(done.logs_applied, expectedLogs, `logs counted (${history})`);

        // A contract added while the server runs: backfilled by the running indexer, from block 0.
        assert.equal((await holdingsOf(server, recipients[0])).find((h) => h.contract === lateAddress), undefined);
        const tracked = runCommand(['indexer', 'track', '--chain-id', '31337', '--pipeline', 'erc20',
          '--address', lateAddress, '--from-block', '0', ...db.flags]);
        assert.equal(tracked.code, 0, tracked.stderr);
        assert.match(tracked.stdout, /tracking 0x[0-9a-f]{40} on erc20 of chain 31337 from block 0/);
        const lateTransfers = Math.ceil(BATCHES / 4);
        await until('the tracked contract to be backfilled', async () => {
          const p = await erc20Status(server);
          return p && p.logs_applied >= expectedLogs + 1 + lateTransfers;
        });
        for (let b = 0; b < BATCHES; b += 4) {
          const who = recipients[b];
          const expected = (await late.balanceOf(who)).toString();
          const held = (await holdingsOf(server, who)).find((h) => h.contract === lateAddress);
          assert.equal(held?.amount, expected, who);
        }
        await until('the backfill gauge to fall to 0', async () => {
          const metrics = await (await fetch(`${server.url}/metrics`)).text();
          return /gatehouse_chain_tracked_backfilling\{chain="31337"\} 0\n/.test(metrics);
        });
        const listed = (await (await fetch(`${server.url}/v1/indexer/status`)).json()).chains[0].tracked_contracts;
        assert.deepEqual(listed.map((t) => [t.contract, t.pipeline, t.start_block, t.state]),
          [[lateAddress, 'erc20', 0, 'following']]);
        // It follows the head with the pipeline now.
        await (await late.transfer(recipients[399], 77n, { nonce: nonce++ })).wait();
        await until('a new transfer of the tracked contract', async () => {
          const held = (await holdingsOf(server, recipients[399])).find((h) => h.contract === lateAddress);
          return held && held.amount === (await late.balanceOf(recipients[399])).toString();
        });
        await server.stop();
        const cli = runCommand(['indexer', 'status', ...db.flags]);
        assert.match(cli.stdout, new RegExp(`31337\\s+erc20\\s+${lateAddress.toLowerCase()}\\s+0\\s+\\d+\\s+following`));
      } finally {
        anvil.stop();
        db.drop();
      }
    });
}
