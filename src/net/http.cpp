#include "net/http.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace gh::net {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  std::optional<std::string_view> found;
  for (const auto& [k, v] : query) {
    if (k == name) found = std::string_view(v);
  }
  return found;
}

Response Response::text(unsigned status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

unsigned status_for(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::bad_input:
      return 400;
    case ErrorKind::unauthorized:
      return 401;
    case ErrorKind::forbidden:
      return 403;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::method_not_allowed:
      return 405;
    case ErrorKind::conflict:
      return 409;
    case ErrorKind::too_large:
      return 413;
    case ErrorKind::rate_limited:
      return 429;
    case ErrorKind::unavailable:
      return 503;
    case ErrorKind::internal:
      return 500;
  }
  return 500;
}

Response error_response(const Error& error) {
  boost::json::object inner;
  inner["code"] = error.code.empty() ? std::string(to_string(error.kind)) : error.code;
  inner["message"] = error.message;
  if (!error.details_json.empty()) {
    boost::system::error_code ec;
    auto details = boost::json::parse(error.details_json, ec);
    if (!ec && details.is_object()) {
      for (const auto& [k, v] : details.as_object()) {
        if (k != "code" && k != "message") inner[k] = v;
      }
    }
  }
  boost::json::object body;
  body["error"] = std::move(inner);
  Response r;
  r.status = status_for(error.kind);
  r.body = boost::json::serialize(body);
  if (error.retry_after)
    r.with_header("Retry-After", std::to_string(std::max<std::int64_t>(error.retry_after->count(), 1)));
  if (!error.allow.empty()) r.with_header("Allow", error.allow);
  return r;
}

}  // namespace gh::net
