#pragma once
// Domain errors as values. Every failure a caller may expect (bad input, a business rule, a missing
// row) travels as an Error; exceptions are kept for the unexpected. net maps an Error to the HTTP
// response in one place (net::error_response in net/http.cpp), headers included.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace gh {

/// The class of a failure; decides the HTTP status (API.md "Errors").
enum class ErrorKind {
  bad_input,           ///< 400
  unauthorized,        ///< 401
  forbidden,           ///< 403
  not_found,           ///< 404
  method_not_allowed,  ///< 405 (with `allow`)
  conflict,            ///< 409
  too_large,           ///< 413
  rate_limited,        ///< 429
  unavailable,         ///< 503
  internal,            ///< 500
};

/// A failure with its snake_case API code and a human message. `details_json`, when not empty, is
/// a serialized JSON object merged into the error body (e.g. `{"missing": [...]}`).
struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string code;
  std::string message;
  std::string details_json;
  /// When set (429, 503): how long the client should wait, sent as Retry-After.
  std::optional<std::chrono::seconds> retry_after;
  /// For 405: the methods the resource allows, sent as Allow.
  std::string allow;
};

/// Builds an Error; the one-liners below keep call sites short.
inline Error make_error(ErrorKind kind, std::string code, std::string message) {
  Error e;
  e.kind = kind;
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}
/// A 429 `rate_limited` that tells the client when to come back.
inline Error rate_limited(std::string message, std::chrono::seconds retry_after) {
  Error e = make_error(ErrorKind::rate_limited, "rate_limited", std::move(message));
  e.retry_after = retry_after;
  return e;
}
inline Error bad_input(std::string code, std::string message) {
  return make_error(ErrorKind::bad_input, std::move(code), std::move(message));
}
inline Error not_found(std::string message) {
  return make_error(ErrorKind::not_found, "not_found", std::move(message));
}
inline Error internal_error(std::string message) {
  return make_error(ErrorKind::internal, "internal", std::move(message));
}

/// Thrown when a bounded queue is full (the unexpected case of load shedding); the dispatcher
/// answers 503 `overloaded` with Retry-After.
class Overloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure of a service the server depends on (its database) that tells whether that service is
/// out of reach for now (lost, refusing connections, no connection free in time). The dispatcher
/// answers a request that failed so 503 `not_ready` with Retry-After, a client's cue to retry, and
/// any other exception 500 `internal`.
class ServiceFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual bool unreachable() const noexcept = 0;
};

/// True when `e` is a ServiceFailure whose service is out of reach for now.
inline bool out_of_reach(const std::exception& e) noexcept {
  const auto* failure = dynamic_cast<const ServiceFailure*>(&e);
  return failure != nullptr && failure->unreachable();
}

/// Human name of a kind, for logs.
const char* to_string(ErrorKind kind) noexcept;

}  // namespace gh
