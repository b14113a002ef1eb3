#pragma once
// A service's answer rendered as the response of a route: the value as JSON, or the error (which
// the dispatcher maps to its status). Written once for every context's routes.
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "net/json.hpp"

namespace gh::net {

/// 204 with no body, or the error.
inline Result<Response> no_content(const Result<void>& done) {
  if (!done) return done.error();
  return Response::text(204, "", "application/json");
}

/// `status` with render(value) as JSON, or the error.
template <class T, class Render>
Result<Response> rendered(const Result<T>& found, Render render, unsigned status = 200) {
  if (!found) return found.error();
  return json_response(status, render(*found));
}

/// 200 with {"<key>": [render(item), ...]}, or the error.
template <class T, class Render>
Result<Response> rendered_list(const Result<std::vector<T>>& found, std::string_view key, Render render) {
  if (!found) return found.error();
  boost::json::array items;
  for (const auto& item : *found) items.push_back(render(item));
  return json_response(200, boost::json::object{{key, std::move(items)}});
}

}  // namespace gh::net
