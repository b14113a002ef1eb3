#pragma once
// GraphQL over HTTP for any context: POST with a JSON body {query, operationName, variables}, or
// GET with the same as query parameters (queries only). Answers the spec's response shape
// ({"data", "errors"}); requests that never reach execution (syntax, validation, variables,
// limits) answer 200 with "errors" only, or 400 when the client accepts
// application/graphql-response+json; a body that is not a GraphQL request answers 400.
#include <any>
#include <functional>
#include <memory>
#include <string>

#include "graphql/exec/executor.hpp"
#include "net/http.hpp"
#include "net/router.hpp"

namespace gh::graphql {

/// Builds the per-request context handed to resolvers (the signed-in user, say).
using ContextFactory = std::function<Task<Result<std::any>>(net::Request&)>;

/// Serves one GraphQL-over-HTTP request.
Task<net::Response> serve_graphql(const Executor& executor, net::Request& request, std::any context = {});

/// Mounts POST and GET `path` on a router for an executor.
void add_graphql_routes(net::Router& router, const std::string& path, std::shared_ptr<const Executor> executor,
                        ContextFactory make_context = {});

}  // namespace gh::graphql
