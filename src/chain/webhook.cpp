#include "chain/webhook.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "eth/hex.hpp"

namespace gh::chain {
namespace {

namespace json = boost::json;

Error invalid(std::string why) {
  return bad_input("webhook_payload_invalid", std::move(why));
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* array_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
}

std::optional<std::string> string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

std::optional<std::uint64_t> uint_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_string()) {
    auto q = rpc::parse_quantity_u64(v->as_string());
    if (q) return *q;
  }
  return std::nullopt;
}

// A Custom (GraphQL) webhook: event.data.block with its logs.
Result<void> graphql_logs(const json::object& block, std::vector<rpc::Log>& out) {
  auto hash_text = string_at(block, "hash");
  auto number = uint_at(block, "number");
  if (!hash_text || !number) return invalid("event.data.block needs hash and number");
  auto hash = eth::fixed_from_hex<32>(*hash_text);
  if (!hash) return invalid("event.data.block.hash is not a 32-byte hash");
  const auto* logs = array_at(block, "logs");
  if (logs == nullptr) return ok();
  for (const auto& item : *logs) {
    if (!item.is_object()) return invalid("a log is not an object");
    const auto& l = item.as_object();
    rpc::Log log;
    log.block_hash = *hash;
    log.block_number = *number;
    auto index = uint_at(l, "index");
    const auto* account = object_at(l, "account");
    auto address = account != nullptr ? string_at(*account, "address") : std::nullopt;
    auto data = string_at(l, "data");
    const auto* topics = array_at(l, "topics");
    if (!index || !address || !data || topics == nullptr)
      return invalid("a log needs index, account.address, data, topics");
    log.log_index = *index;
    auto a = eth::parse_address(*address);
    if (!a) return invalid(std::string("account.address: ") + eth::to_string(a.error()));
    log.address = *a;
    auto bytes = rpc::parse_data(*data);
    if (!bytes) return invalid("data: " + bytes.error().message);
    log.data = std::move(*bytes);
    if (topics->size() > 4) return invalid("more than 4 topics");
    for (const auto& t : *topics) {
      if (!t.is_string()) return invalid("a topic is not a string");
      auto topic = eth::fixed_from_hex<32>(t.as_string());
      if (!topic) return invalid("a topic is not a 32-byte hash");
      log.topics.push_back(*topic);
    }
    if (const auto* txn = object_at(l, "transaction")) {
      if (auto h = string_at(*txn, "hash")) {
        if (auto parsed = eth::fixed_from_hex<32>(*h)) log.transaction_hash = *parsed;
      }
      log.transaction_index = uint_at(*txn, "index").value_or(0);
    }
    out.push_back(std::move(log));
  }
  return ok();
}

}  // namespace

std::string alchemy_signature(std::string_view key, std::string_view body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac.data(), &length);
  return eth::to_hex(eth::ByteView(mac.data(), length), false);
}

bool verify_alchemy_signature(std::string_view key, std::string_view body, std::string_view signature_hex) {
  if (key.empty()) return false;
  const std::string expected = alchemy_signature(key, body);
  std::string given(signature_hex);
  for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::optional<std::uint64_t> alchemy_network_chain_id(std::string_view network) {
  static constexpr std::pair<std::string_view, std::uint64_t> networks[] = {
      {"ETH_MAINNET", 1},        {"ETH_SEPOLIA", 11155111}, {"ETH_HOLESKY", 17000},  {"MATIC_MAINNET", 137},
      {"MATIC_AMOY", 80002},     {"ARB_MAINNET", 42161},    {"ARB_SEPOLIA", 421614}, {"OPT_MAINNET", 10},
      {"OPT_SEPOLIA", 11155420}, {"BASE_MAINNET", 8453},    {"BASE_SEPOLIA", 84532}, {"ZKSYNC_MAINNET", 324},
      {"LINEA_MAINNET", 59144},  {"BNB_MAINNET", 56},       {"AVAX_MAINNET", 43114}, {"BLAST_MAINNET", 81457},
  };
  for (const auto& n : networks) {
    if (n.first == network) return n.second;
  }
  return std::nullopt;
}

Result<WebhookDelivery> parse_alchemy_payload(std::string_view body) {
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return invalid("the body is not a JSON object");
  const auto& root = doc.as_object();
  const auto* event = object_at(root, "event");
  if (event == nullptr) return invalid("event is missing");
  WebhookDelivery out;
  if (auto network = string_at(*event, "network")) out.chain_id = alchemy_network_chain_id(*network);
  if (const auto* activity = array_at(*event, "activity")) {
    for (const auto& a : *activity) {
      if (!a.is_object()) return invalid("an activity is not an object");
      const auto* log = a.as_object().if_contains("log");
      if (log == nullptr || log->is_null()) continue;  // a native transfer: no log
      auto parsed = rpc::parse_log(*log);
      if (!parsed) return invalid("activity log: " + parsed.error().message);
      out.logs.push_back(std::move(*parsed));
    }
    return out;
  }
  const auto* data = object_at(*event, "data");
  const auto* block = data != nullptr ? object_at(*data, "block") : nullptr;
  if (block == nullptr) return invalid("neither event.activity nor event.data.block");
  if (auto r = graphql_logs(*block, out.logs); !r) return r.error();
  return out;
}

}  // namespace gh::chain
