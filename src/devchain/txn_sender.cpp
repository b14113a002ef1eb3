#include "devchain/txn_sender.hpp"

// GCC 12 inlines Asio's awaitable frame allocation and its sized operator delete into coroutines
// and reports them as a mismatched pair: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <utility>

#include "eth/hex.hpp"
#include "eth/transaction.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::devchain {

TxnSender::TxnSender(rpc::RpcClient& client, const eth::PrivateKey& key, TxnSenderSettings settings)
    : m_client(client), m_key(key), m_address(m_key.address()), m_settings(settings) {}

Task<Result<eth::U256>> TxnSender::next_base_fee() {
  auto history = co_await m_client.fee_history(1, rpc::BlockTag::latest);
  if (!history) co_return history.error().to_error();
  // The last entry is the base fee of the block our transaction will land in.
  if (history->base_fee_per_gas.empty()) co_return eth::U256{};
  co_return history->base_fee_per_gas.back();
}

Task<Result<rpc::Receipt>> TxnSender::send(std::optional<eth::Address> to, eth::Bytes data, eth::U256 value) {
  if (!m_nonce) {
    auto nonce = co_await m_client.get_transaction_count(m_address, rpc::BlockTag::pending);
    if (!nonce) co_return nonce.error().to_error();
    m_nonce = *nonce;
  }
  auto base_fee = co_await next_base_fee();
  if (!base_fee) co_return std::move(base_fee).error();

  rpc::CallRequest call;
  call.from = m_address;
  call.to = to;
  call.value = value;
  call.data = data;
  auto estimate = co_await m_client.estimate_gas(call);
  // A failing estimate is the revert the transaction would hit: report it before spending gas.
  if (!estimate) co_return estimate.error().to_error();

  eth::Eip1559Txn txn;
  txn.chain_id = m_settings.chain_id;
  txn.nonce = *m_nonce;
  txn.max_priority_fee_per_gas = m_settings.priority_fee_per_gas;
  txn.max_fee_per_gas = base_fee->wrapping_add(*base_fee).wrapping_add(m_settings.priority_fee_per_gas);
  txn.gas_limit = eth::U256(*estimate + *estimate * m_settings.gas_margin_percent / 100);
  txn.to = to;
  txn.value = value;
  txn.data = std::move(data);
  const auto signed_txn = eth::sign_txn(txn, m_key);

  auto hash = co_await m_client.send_raw_transaction(eth::encode_signed(signed_txn));
  if (!hash) {
    // The node may or may not have taken the nonce: read it again next time.
    m_nonce.reset();
    co_return hash.error().to_error();
  }
  ++*m_nonce;

  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + m_settings.receipt_timeout;
  // An automining node has the receipt within a millisecond or two: poll soon, then back off.
  auto pause = std::min(std::chrono::milliseconds(1), m_settings.receipt_poll_interval);
  while (true) {
    auto receipt = co_await m_client.get_transaction_receipt(*hash);
    if (!receipt) co_return receipt.error().to_error();
    if (*receipt) {
      if ((*receipt)->status == false) {
        co_return make_error(ErrorKind::internal, "txn_reverted",
                             "transaction " + eth::to_hex(hash->view()) + " reverted");
      }
      co_return std::move(**receipt);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return make_error(ErrorKind::unavailable, "receipt_timeout",
                           "no receipt for " + eth::to_hex(hash->view()) + " in time");
    }
    timer.expires_after(pause);
    co_await timer.async_wait(boost::asio::use_awaitable);
    pause = std::min(pause * 2, m_settings.receipt_poll_interval);
  }
}

Task<Result<eth::Address>> TxnSender::deploy(eth::Bytes creation_code) {
  auto receipt = co_await send(std::nullopt, std::move(creation_code));
  if (!receipt) co_return std::move(receipt).error();
  if (!receipt->contract_address) {
    co_return make_error(ErrorKind::internal, "deploy_no_address", "the creation receipt has no contract address");
  }
  co_return *receipt->contract_address;
}

}  // namespace gh::devchain
