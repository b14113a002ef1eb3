#pragma once
// A sample GraphQL API over fixed in-memory data (tokens, pairs, swaps), served by the binary
// under --test-hooks so that the integration tests can hold the engine against graphql-js with the
// same schema and data. Not a product API: the DEX analytics context brings the real one.
#include <memory>
#include <string_view>

#include <boost/json/value.hpp>

#include "graphql/exec/executor.hpp"
#include "net/router.hpp"

namespace gh::graphql {

/// The sample schema's SDL.
std::string_view sample_sdl();
/// The sample data (JSON: {"tokens": [...], "pairs": [...]}), the same every time.
const boost::json::value& sample_data();
/// An executor of the sample schema with its resolvers (token loads batched per level).
std::shared_ptr<const Executor> make_sample_executor(RequestLimits limits = {});

/// Mounts POST/GET /v1/_test/graphql (the sample API) and GET /v1/_test/graphql/sample ({sdl, data}).
void add_sample_graphql_routes(net::Router& router);

}  // namespace gh::graphql
