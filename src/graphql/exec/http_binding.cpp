#include "graphql/exec/http_binding.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace gh::graphql {
namespace {

namespace json = boost::json;

bool wants_graphql_response(const net::Request& request) {
  auto accept = request.header("accept");
  return accept && accept->find("application/graphql-response+json") != std::string_view::npos;
}

// GraphQL over HTTP: a client that accepts application/graphql-response+json gets that media
// type (and its status codes); others get application/json.
net::Response respond(const net::Request& request, unsigned status, const json::object& body) {
  net::Response r;
  r.status = status;
  r.content_type = wants_graphql_response(request) ? "application/graphql-response+json; charset=utf-8"
                                                   : "application/json; charset=utf-8";
  r.body = json::serialize(body);
  return r;
}

net::Response bad_request(const net::Request& request, std::string message, unsigned status = 400) {
  std::vector<GraphQLError> errors(1);
  errors[0].message = std::move(message);
  errors[0].code = "BAD_REQUEST";
  return respond(request, status, error_response(errors));
}

}  // namespace

Task<net::Response> serve_graphql(const Executor& executor, net::Request& request, std::any context) {
  RequestParams params;
  if (request.method == "GET") {
    auto query = request.query_param("query");
    if (!query) co_return bad_request(request, "The request must carry a \"query\" parameter.");
    params.query = std::string(*query);
    if (auto name = request.query_param("operationName"); name && !name->empty())
      params.operation_name = std::string(*name);
    if (auto vars = request.query_param("variables"); vars && !vars->empty()) {
      boost::system::error_code ec;
      auto parsed = json::parse(*vars, ec);
      if (ec || !parsed.is_object()) co_return bad_request(request, "\"variables\" must be a JSON object.");
      params.variables = std::move(parsed.as_object());
    }
  } else {
    boost::system::error_code ec;
    auto body = json::parse(request.body, ec);
    if (ec) co_return bad_request(request, "The request body is not valid JSON.");
    if (auto problem = params_from_json(body, params)) co_return bad_request(request, *problem);
  }
  auto prepared = prepare(executor.schema(), params, executor.limits());
  if (!prepared.request)
    co_return respond(request, wants_graphql_response(request) ? 400 : 200, error_response(prepared.errors));
  if (request.method == "GET" && prepared.request->operation->operation != OperationType::query) {
    auto r = bad_request(request, "Only query operations can be sent with GET; use POST.", 405);
    r.with_header("Allow", "POST");
    co_return r;
  }
  auto response = co_await executor.execute_prepared(*prepared.request, std::move(context));
  co_return respond(request, 200, response);
}

void add_graphql_routes(net::Router& router, const std::string& path, std::shared_ptr<const Executor> executor,
                        ContextFactory make_context) {
  auto handler = [executor = std::move(executor),
                  make_context = std::move(make_context)](net::Request& request) -> Task<Result<net::Response>> {
    std::any context;
    if (make_context) {
      auto made = co_await make_context(request);
      if (!made) co_return made.error();
      context = std::move(*made);
    }
    auto response = co_await serve_graphql(*executor, request, std::move(context));
    co_return response;
  };
  router.add("POST", path, handler);
  router.add("GET", path, handler);
}

}  // namespace gh::graphql
