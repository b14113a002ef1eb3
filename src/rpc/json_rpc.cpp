#include "rpc/json_rpc.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <ctime>

namespace gh::rpc {

namespace json = boost::json;

const char* to_string(RpcErrc code) noexcept {
  switch (code) {
    case RpcErrc::rpc:
      return "rpc";
    case RpcErrc::transport:
      return "transport";
    case RpcErrc::http_status:
      return "http_status";
    case RpcErrc::bad_response:
      return "bad_response";
    case RpcErrc::decode:
      return "decode";
    case RpcErrc::deadline:
      return "deadline";
    case RpcErrc::too_large:
      return "too_large";
  }
  return "transport";
}

Error RpcError::to_error() const {
  switch (kind) {
    case RpcErrc::rpc: {
      Error e = make_error(ErrorKind::bad_input, "rpc_error", message);
      json::object details{{"rpc_code", code}};
      if (!data.empty()) {
        boost::system::error_code ec;
        auto parsed = json::parse(data, ec);
        details["rpc_data"] = ec ? json::value(data) : parsed;
      }
      e.details_json = json::serialize(details);
      return e;
    }
    case RpcErrc::decode:
      return make_error(ErrorKind::internal, "rpc_decode", message);
    default:
      return make_error(ErrorKind::unavailable, std::string("rpc_") + to_string(kind), message);
  }
}

RpcError make_rpc_error(RpcErrc kind, std::string message) {
  RpcError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

json::object make_request(const RpcCall& call, std::uint64_t id) {
  return json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", call.method}, {"params", call.params}};
}

RpcError parse_error_object(const json::value& error) {
  const auto* obj = error.if_object();
  if (!obj) return make_rpc_error(RpcErrc::bad_response, "error member is not an object");
  RpcError e;
  e.kind = RpcErrc::rpc;
  if (const auto* code = obj->if_contains("code")) {
    if (code->is_int64()) {
      e.code = code->as_int64();
    } else if (code->is_uint64()) {
      e.code = static_cast<std::int64_t>(code->as_uint64());
    } else {
      return make_rpc_error(RpcErrc::bad_response, "error code is not an integer");
    }
  }
  if (const auto* message = obj->if_contains("message"); message && message->is_string()) {
    e.message = std::string(message->as_string());
  }
  if (const auto* data = obj->if_contains("data"); data && !data->is_null()) e.data = json::serialize(*data);
  return e;
}

namespace {

/// The numeric id of a response, if it has one (we only send unsigned integer ids).
std::optional<std::uint64_t> response_id(const json::object& obj) {
  const auto* id = obj.if_contains("id");
  if (!id) return std::nullopt;
  if (id->is_uint64()) return id->as_uint64();
  if (id->is_int64() && id->as_int64() >= 0) return static_cast<std::uint64_t>(id->as_int64());
  return std::nullopt;
}

/// The result or error of one response object, without looking at its id.
RpcResult<json::value> decode_one(const json::object& obj) {
  const auto* version = obj.if_contains("jsonrpc");
  if (!version || !version->is_string() || version->as_string() != "2.0") {
    return make_rpc_error(RpcErrc::bad_response, "response is not JSON-RPC 2.0");
  }
  if (const auto* error = obj.if_contains("error"); error && !error->is_null()) return parse_error_object(*error);
  if (const auto* result = obj.if_contains("result")) return *result;
  return make_rpc_error(RpcErrc::bad_response, "response has neither result nor error");
}

std::optional<json::value> parse_json(std::string_view body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec) return std::nullopt;
  return value;
}

std::string excerpt(std::string_view body) {
  constexpr std::size_t max = 120;
  return std::string(body.substr(0, max)) + (body.size() > max ? "..." : "");
}

}  // namespace

RpcResult<json::value> parse_response(std::string_view body, std::uint64_t id) {
  auto value = parse_json(body);
  if (!value) return make_rpc_error(RpcErrc::bad_response, "response is not JSON: " + excerpt(body));
  return decode_response(*value, id);
}

RpcResult<json::value> decode_response(const json::value& document, std::uint64_t id) {
  const auto* obj = document.if_object();
  if (!obj) return make_rpc_error(RpcErrc::bad_response, "response is not a JSON object");
  auto decoded = decode_one(*obj);
  const auto got = response_id(*obj);
  // A node that cannot parse our request answers with id null and an error: keep that error.
  const bool unparsed_request_error = !got && !decoded.has_value();
  if (got != id && !unparsed_request_error) {
    return make_rpc_error(RpcErrc::bad_response, "response id does not match the request");
  }
  return decoded;
}

RpcResult<std::vector<RpcResult<json::value>>> parse_batch_response(std::string_view body, std::uint64_t first_id,
                                                                    std::size_t count) {
  auto value = parse_json(body);
  if (!value) return make_rpc_error(RpcErrc::bad_response, "batch response is not JSON: " + excerpt(body));
  return decode_batch_response(*value, first_id, count);
}

RpcResult<std::vector<RpcResult<json::value>>> decode_batch_response(const json::value& document,
                                                                     std::uint64_t first_id, std::size_t count) {
  const auto* value = &document;
  std::vector<RpcResult<json::value>> out(count, make_rpc_error(RpcErrc::bad_response, "no response for this call"));
  if (const auto* obj = value->if_object()) {
    // A provider that rejects the whole batch (too large, batches disabled) answers once.
    auto decoded = decode_one(*obj);
    if (decoded.has_value()) return make_rpc_error(RpcErrc::bad_response, "batch answered with a single result");
    for (auto& slot : out) slot = decoded.error();
    return out;
  }
  const auto* items = value->if_array();
  if (!items) return make_rpc_error(RpcErrc::bad_response, "batch response is neither an array nor an object");
  for (const auto& item : *items) {
    const auto* obj = item.if_object();
    if (!obj) continue;
    const auto id = response_id(*obj);
    if (!id || *id < first_id || *id - first_id >= count) continue;
    out[static_cast<std::size_t>(*id - first_id)] = decode_one(*obj);
  }
  return out;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  std::uint64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    if (seconds > 86'400) seconds = 86'400;  // a day is "much later"; the caller caps further
    return std::chrono::milliseconds(seconds * 1000);
  }
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* parsed = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!parsed || *parsed != '\0') return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (at <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

}  // namespace gh::rpc
