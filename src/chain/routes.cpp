#include "chain/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "chain/webhook.hpp"
#include "eth/address.hpp"
#include "net/json.hpp"

namespace gh::chain {
namespace {

namespace json = boost::json;
using net::Request;
using net::Response;

std::string checksum(const std::string& lower_hex) {
  auto a = eth::parse_address(lower_hex);
  return a ? eth::to_checksum(*a) : lower_hex;
}

Result<std::optional<std::uint64_t>> chain_param(const Request& req) {
  auto v = req.query_param("chain_id");
  if (!v) return std::optional<std::uint64_t>();
  std::uint64_t id = 0;
  if (v->empty() || v->size() > 18) return bad_input("invalid_chain_id", "chain_id must be a positive integer");
  for (char c : *v) {
    if (c < '0' || c > '9') return bad_input("invalid_chain_id", "chain_id must be a positive integer");
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return std::optional<std::uint64_t>(id);
}

json::object render_chain(const ChainStatus& c) {
  json::array pipelines;
  for (const auto& p : c.pipelines) {
    json::value lag_seconds = nullptr;
    if (p.lag_seconds) lag_seconds = *p.lag_seconds;
    json::value last_error = nullptr;
    if (p.last_error) last_error = json::string(*p.last_error);
    pipelines.push_back(json::object{{"name", p.pipeline},
                                     {"checkpoint", p.checkpoint},
                                     {"head", c.head},
                                     {"lag_blocks", p.lag_blocks},
                                     {"lag_seconds", lag_seconds},
                                     {"logs_applied", p.logs_applied},
                                     {"last_error", last_error},
                                     {"error_count", p.error_count}});
  }
  json::array tracked;
  for (const auto& t : c.tracked) {
    json::value last_error = nullptr;
    if (t.last_error) last_error = json::string(*t.last_error);
    auto address = eth::parse_address(t.contract);
    tracked.push_back(json::object{{"pipeline", t.pipeline},
                                   {"contract", address ? eth::to_checksum(*address) : t.contract},
                                   {"start_block", t.start_block},
                                   {"backfilled_to", t.backfilled_to},
                                   {"state", t.joined ? "following" : "backfilling"},
                                   {"logs_applied", t.logs_applied},
                                   {"last_error", last_error}});
  }
  return json::object{
      {"chain_id", c.chain_id}, {"head", c.head},
      {"reorgs", c.reorgs},     {"updated_at", format_rfc3339(SystemTime(std::chrono::milliseconds(c.updated_ms)))},
      {"pipelines", pipelines}, {"tracked_contracts", tracked}};
}

}  // namespace

void add_chain_routes(net::Router& router, ChainService& service, ChainRoutesSettings settings) {
  auto config = std::make_shared<ChainRoutesSettings>(std::move(settings));

  router.add("GET", "/v1/accounts/{address}/holdings", [&service](Request& req) -> Task<Result<Response>> {
    auto address = eth::parse_address(req.param("address"));
    if (!address)
      co_return bad_input("invalid_address", std::string("not an address: ") + eth::to_string(address.error()));
    auto chain = chain_param(req);
    if (!chain) co_return chain.error();
    auto list = co_await service.holdings(*address, *chain);
    if (!list) co_return list.error();
    json::array erc20, nfts, staked;
    for (const auto& h : *list) {
      if (h.kind == "erc20") {
        erc20.push_back(
            json::object{{"chain_id", h.chain_id}, {"contract", checksum(h.contract)}, {"amount", h.amount}});
      } else if (h.kind == "staked") {
        staked.push_back(
            json::object{{"chain_id", h.chain_id}, {"contract", checksum(h.contract)}, {"amount", h.amount}});
      } else {
        nfts.push_back(json::object{{"chain_id", h.chain_id},
                                    {"standard", h.kind},
                                    {"contract", checksum(h.contract)},
                                    {"token_id", h.token_id},
                                    {"amount", h.amount}});
      }
    }
    co_return net::json_response(
        200,
        json::object{{"address", eth::to_checksum(*address)}, {"erc20", erc20}, {"nfts", nfts}, {"staked", staked}});
  });

  router.add("GET", "/v1/indexer/status", [&service](Request&) -> Task<Result<Response>> {
    auto status = co_await service.status();
    if (!status) co_return status.error();
    json::array chains;
    for (const auto& c : *status) chains.push_back(render_chain(c));
    co_return net::json_response(200, json::object{{"chains", chains}});
  });

  router.add("POST", "/v1/webhooks/alchemy", [&service, config](Request& req) -> Task<Result<Response>> {
    if (config->alchemy_signing_key.empty()) {
      co_return make_error(ErrorKind::unavailable, "webhook_not_configured", "no Alchemy signing key is configured");
    }
    auto signature = req.header("x-alchemy-signature");
    if (!signature || !verify_alchemy_signature(config->alchemy_signing_key, req.body, *signature)) {
      co_return make_error(ErrorKind::unauthorized, "invalid_signature", "X-Alchemy-Signature does not match the body");
    }
    auto delivery = parse_alchemy_payload(req.body);
    if (!delivery) co_return delivery.error();
    auto chain = chain_param(req);
    if (!chain) co_return chain.error();
    const auto chain_id = *chain ? *chain : delivery->chain_id;
    if (!chain_id) co_return bad_input("unknown_network", "the payload's network is unknown; add ?chain_id=");
    if (config->chains.count(*chain_id) == 0) {
      co_return bad_input("chain_not_indexed", "chain " + std::to_string(*chain_id) + " is not indexed here");
    }
    const auto received = static_cast<std::int64_t>(delivery->logs.size());
    auto added = co_await service.ingest(*chain_id, std::move(delivery->logs));
    if (!added) co_return added.error();
    if (config->wake) config->wake(*chain_id);
    co_return net::json_response(200, json::object{{"chain_id", *chain_id}, {"logs", received}, {"new", *added}});
  });
}

}  // namespace gh::chain
