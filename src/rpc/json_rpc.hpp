#pragma once
// JSON-RPC 2.0 envelopes (requests, single and batch responses) and the error value every rpc call
// returns on failure. Pure: no I/O, so the decoding of hostile provider output is unit-testable.
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace gh::rpc {

/// Why a call produced no result.
enum class RpcErrc {
  rpc,           ///< the node answered with a JSON-RPC error object (e.g. a revert); never retried
  transport,     ///< no HTTP response (refused, reset, timeout, TLS, truncated) after the retries
  http_status,   ///< an HTTP status other than 2xx that carried no JSON-RPC answer
  bad_response,  ///< the body was not a JSON-RPC 2.0 answer to our request
  decode,        ///< the result did not have the expected shape (typed calls)
  deadline,      ///< the call's total time budget ran out before a usable answer
  too_large,     ///< the answer exceeds the client's response size limit; never retried (it would be
                 ///< the same answer), eth_getLogs splits its range on it
};

/// The snake_case name of an RpcErrc.
const char* to_string(RpcErrc code) noexcept;

/// A failed call. For RpcErrc::rpc, `code`, `message` and `data` are the node's error object
/// (`data` is its JSON text, e.g. "\"0x08c379a0...\"" for a revert, empty when absent).
struct RpcError {
  RpcErrc kind = RpcErrc::transport;
  std::int64_t code = 0;
  std::string message;
  std::string data;
  /// HTTP status of the last attempt, when there was a response.
  unsigned http_status = 0;

  /// The failure as a gh::Error (a node error is bad_input; the others unavailable or internal).
  Error to_error() const;
};

/// A value or the RpcError that prevented it.
template <class T>
class [[nodiscard]] RpcResult {
 public:
  RpcResult(T value) : m_data(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  RpcResult(RpcError error)
      : m_data(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return m_data.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return std::get<0>(m_data); }
  const T& value() const& { return std::get<0>(m_data); }
  T&& value() && { return std::get<0>(std::move(m_data)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const RpcError& error() const& { return std::get<1>(m_data); }
  RpcError&& error() && { return std::get<1>(std::move(m_data)); }

 private:
  std::variant<T, RpcError> m_data;
};

/// Builds an RpcError of a kind other than rpc.
RpcError make_rpc_error(RpcErrc kind, std::string message);

/// One call of a request or a batch.
struct RpcCall {
  std::string method;
  boost::json::array params;
};

/// The serialized request object {"jsonrpc":"2.0","id":id,"method":...,"params":[...]}.
boost::json::object make_request(const RpcCall& call, std::uint64_t id);

/// The answer to the request with id `id`: its result, or its error object as RpcErrc::rpc.
/// Anything else (not JSON, not 2.0, wrong id, neither result nor error) is bad_response.
RpcResult<boost::json::value> parse_response(std::string_view body, std::uint64_t id);

/// Matches a batch answer to the ids [first_id, first_id + count): element i answers call i. The
/// answer may come in any order and may lack some calls (those get bad_response). A provider
/// that refuses batches answers with one error object: every call then gets that error. The
/// outer failure is for a body that is no answer at all.
RpcResult<std::vector<RpcResult<boost::json::value>>> parse_batch_response(std::string_view body,
                                                                           std::uint64_t first_id, std::size_t count);

/// parse_response on an already parsed document.
RpcResult<boost::json::value> decode_response(const boost::json::value& document, std::uint64_t id);

/// parse_batch_response on an already parsed document.
RpcResult<std::vector<RpcResult<boost::json::value>>> decode_batch_response(const boost::json::value& document,
                                                                            std::uint64_t first_id, std::size_t count);

/// The error object of a response as an RpcError (kind rpc); malformed objects give bad_response.
RpcError parse_error_object(const boost::json::value& error);

/// Parses Retry-After (delta seconds, or an HTTP date relative to `now`); nullopt when absent or
/// unparseable.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

}  // namespace gh::rpc
