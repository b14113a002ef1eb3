#pragma once
// Sends EIP-1559 transactions from one key through our own signing and JSON-RPC code, waits for
// their receipts and keeps the nonce locally. Made for the dev chain and tests (one sender per
// key, transactions one after another); the production hot wallet lives in rewards.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/secp256k1.hpp"
#include "eth/u256.hpp"
#include "rpc/eth_types.hpp"

namespace gh::rpc {
class RpcClient;
}

namespace gh::devchain {

/// How a TxnSender prices and waits for its transactions.
struct TxnSenderSettings {
  /// EIP-155 chain id every transaction is signed for.
  std::uint64_t chain_id = 31337;
  /// Tip per gas; max fee is twice the next base fee plus this.
  eth::U256 priority_fee_per_gas = 1'000'000'000;
  /// Gas limit = estimate + estimate * margin_percent / 100: estimates can be a little short
  /// when state changes between estimate and inclusion.
  std::uint64_t gas_margin_percent = 20;
  /// Longest wait between two eth_getTransactionReceipt polls (the first waits 1 ms, each next
  /// one twice as long up to this).
  std::chrono::milliseconds receipt_poll_interval{25};
  /// Bound on waiting for one receipt.
  std::chrono::milliseconds receipt_timeout{60'000};
};

/// Signs and sends transactions from one key, one at a time, each mined before the next.
class TxnSender {
 public:
  /// A sender of `key`'s transactions through `client` (which must outlive it).
  TxnSender(rpc::RpcClient& client, const eth::PrivateKey& key, TxnSenderSettings settings = {});

  /// The account that signs.
  const eth::Address& address() const noexcept { return m_address; }

  /// Sends `data` (and `value` wei) to `to`, or creates a contract when `to` is nullopt, and waits
  /// for the receipt. Errors: the node's ("rpc_*" via RpcError::to_error), "txn_reverted" (mined
  /// with status 0), "receipt_timeout".
  Task<Result<rpc::Receipt>> send(std::optional<eth::Address> to, eth::Bytes data, eth::U256 value = {});

  /// Deploys `creation_code` and returns the new contract's address. Errors: as send, and
  /// "deploy_no_address".
  Task<Result<eth::Address>> deploy(eth::Bytes creation_code);

 private:
  Task<Result<eth::U256>> next_base_fee();

  rpc::RpcClient& m_client;
  eth::PrivateKey m_key;
  eth::Address m_address;
  TxnSenderSettings m_settings;
  /// Next nonce to use; nullopt until read from the node (and again after a failed send, whose
  /// nonce may or may not have been consumed).
  std::optional<std::uint64_t> m_nonce;
};

}  // namespace gh::devchain
