#pragma once
// Routes whose handlers run for an authenticated caller. The check every such route starts with
// (authenticate, answer the failure, go on with the caller) is written here once; what a caller
// is (a session, a bot) is the authenticating context's business, so it is a type parameter.
#include <functional>
#include <utility>

#include "net/http.hpp"

namespace gh::net {

/// What a route does once its caller is known.
template <class Principal>
using PrincipalHandler = std::function<Task<Result<Response>>(const Principal& who, Request& request)>;

/// A handler that authenticates the request with `authenticate(request)` (which returns a
/// `Task<Result<Principal>>`), answers its error, or runs `handle` with the caller.
template <class Principal, class Authenticate>
Handler authenticated(Authenticate authenticate, PrincipalHandler<Principal> handle) {
  return
      [authenticate = std::move(authenticate), handle = std::move(handle)](Request& request) -> Task<Result<Response>> {
        auto who = co_await authenticate(request);
        if (!who) co_return who.error();
        co_return co_await handle(*who, request);
      };
}

}  // namespace gh::net
