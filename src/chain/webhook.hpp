#pragma once
// Alchemy webhook ingest, the pure part: the HMAC-SHA256 signature check of the raw body
// (constant time), and the logs carried by Address Activity and Custom (GraphQL) payloads, as
// rpc::Log values that enter the same path as the poller's.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "rpc/eth_types.hpp"

namespace gh::chain {

/// True when `signature_hex` (X-Alchemy-Signature) is the HMAC-SHA256 of `body` under `key`,
/// compared in constant time. An empty key never verifies.
bool verify_alchemy_signature(std::string_view key, std::string_view body, std::string_view signature_hex);

/// The lowercase hex HMAC-SHA256 of `body` under `key` (what Alchemy sends).
std::string alchemy_signature(std::string_view key, std::string_view body);

/// The chain id of an Alchemy network name ("ETH_MAINNET" -> 1), if known.
std::optional<std::uint64_t> alchemy_network_chain_id(std::string_view network);

/// What a webhook delivery carries.
struct WebhookDelivery {
  std::optional<std::uint64_t> chain_id;  ///< from event.network, when known
  std::vector<rpc::Log> logs;             ///< logs with their block hash and index
};

/// Parses an Address Activity or Custom (GraphQL) payload. Activities without a log (native
/// transfers) are skipped. Error "webhook_payload_invalid" names what is wrong.
Result<WebhookDelivery> parse_alchemy_payload(std::string_view body);

}  // namespace gh::chain
