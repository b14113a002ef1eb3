// Transactions signed by ethers: legacy without chain id (pre-EIP-155), legacy with an EIP-155
// chain id, and EIP-1559 (type 2) with access lists. Each case gives the fields, ethers' unsigned
// serialization (what is hashed for signing), the signed raw transaction, its hash and the sender.
import { Transaction, Wallet, getAddress } from 'ethers';
import { hex } from '../generate.mjs';
import { randomPrivateKey } from './eip191.mjs';

function chainId(rng) {
  const r = rng.int(0, 5);
  if (r === 0) return 1n;
  if (r === 1) return BigInt(rng.pick([5, 10, 56, 137, 8453, 31337, 11155111]));
  // Larger ids stay below 2^62 so that EIP-155's v = 2 * id + 36 fits 64 bits.
  return rng.bigBits(rng.int(1, 62)) + 1n;
}

function data(rng) {
  const r = rng.int(0, 5);
  if (r === 0) return new Uint8Array(0);
  if (r === 1) return Uint8Array.of(rng.int(0, 0xff));
  if (r === 2) return rng.bytes(rng.int(56, 600));
  return rng.bytes(rng.int(0, 68));
}

function accessList(rng) {
  if (rng.chance(0.3)) return [];
  return Array.from({ length: rng.int(1, 3) }, () => ({
    address: hex(rng.bytes(20)),
    storageKeys: Array.from({ length: rng.int(0, 3) }, () => hex(rng.bytes(32))),
  }));
}

const dec = (v) => (v === null || v === undefined ? null : v.toString());

export function generate({ rng, count }) {
  const cases = [];
  for (let i = 0; i < count; ++i) {
    const kind = ['legacy', 'eip155', 'eip1559'][i % 3];
    const wallet = new Wallet(randomPrivateKey(rng));
    const fields = {
      nonce: Number(rng.chance(0.2) ? 0n : rng.bigBits(rng.int(1, 53))),
      gasLimit: rng.bigint(rng.chance(0.8) ? 64 : 256),
      to: rng.chance(0.1) ? null : getAddress(hex(rng.bytes(20))),
      value: rng.bigint(256),
      data: hex(data(rng)),
    };
    if (kind === 'eip1559') {
      // ethers refuses a priority fee above the max fee; keep it within.
      const maxFee = rng.bigint(256);
      Object.assign(fields, {
        type: 2,
        chainId: chainId(rng),
        maxPriorityFeePerGas: rng.chance(0.2) ? maxFee : rng.bigint(256) % (maxFee + 1n),
        maxFeePerGas: maxFee,
        accessList: accessList(rng),
      });
    } else {
      Object.assign(fields, { type: 0, gasPrice: rng.bigint(256), chainId: kind === 'eip155' ? chainId(rng) : 0n });
    }
    const txn = Transaction.from(fields);
    const unsigned = txn.unsignedSerialized;
    txn.signature = wallet.signingKey.sign(txn.unsignedHash);
    const raw = txn.serialized;
    // Parse ethers' own output back: the sender must be the wallet (checks the reference itself).
    const parsed = Transaction.from(raw);
    if (parsed.from !== wallet.address) throw new Error('ethers did not recover its own sender');
    cases.push({
      kind,
      key: wallet.privateKey,
      nonce: String(fields.nonce),
      chain_id: kind === 'legacy' ? null : dec(fields.chainId),
      gas_price: dec(fields.gasPrice),
      max_priority_fee_per_gas: dec(fields.maxPriorityFeePerGas),
      max_fee_per_gas: dec(fields.maxFeePerGas),
      gas_limit: dec(fields.gasLimit),
      to: fields.to === null ? null : fields.to.toLowerCase(),
      value: dec(fields.value),
      data: fields.data,
      access_list: fields.accessList ?? null,
      unsigned,
      signing_hash: txn.unsignedHash,
      raw,
      hash: parsed.hash,
      from: wallet.address,
    });
  }
  return cases;
}
