#include "graphql/exec/http_binding.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "core/testing/run_task.hpp"
#include "graphql/testing/sample_schema.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

// The signed-in user travels from the context factory to the resolvers.
std::shared_ptr<const Executor> whoami_executor() {
  Resolvers r;
  r.sync("Query", "echo", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    return json::value(std::any_cast<std::string>(info.context));
  });
  return std::make_shared<const Executor>(testing::test_schema(), std::move(r));
}

struct Reply {
  unsigned status = 0;
  json::value body;
  std::string allow;
  std::string content_type;
};

Reply call(const net::Router& router, net::Request request) {
  auto match = router.match(request.method, request.path);
  EXPECT_EQ(match.kind, net::RouteMatch::Kind::found);
  boost::asio::io_context ioc;
  auto result = gh::testing::run(ioc, (*match.handler)(request));
  if (!result) return Reply{net::status_for(result.error().kind), json::value(result.error().code), {}, {}};
  Reply reply{result->status, json::parse(result->body), {}, result->content_type};
  for (const auto& [name, value] : result->headers) {
    if (name == "Allow") reply.allow = value;
  }
  return reply;
}

net::Request post(std::string body, std::string user = "") {
  net::Request r;
  r.method = "POST";
  r.path = "/graphql";
  r.body = std::move(body);
  if (!user.empty()) r.headers.emplace_back("x-user", user);
  return r;
}

class HttpBinding : public ::testing::Test {
 protected:
  void SetUp() override {
    add_graphql_routes(m_router, "/graphql", whoami_executor(), [](net::Request& req) -> Task<Result<std::any>> {
      auto user = req.header("x-user");
      if (!user) co_return make_error(ErrorKind::unauthorized, "unauthorized", "sign in first");
      co_return std::any(std::string(*user));
    });
  }
  net::Router m_router;
};

TEST_F(HttpBinding, PostRunsWithTheRequestContext) {
  auto r = call(m_router, post(R"({"query": "query Q { echo }", "operationName": "Q", "variables": {}})", "alice"));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, json::parse(R"({"data": {"echo": "alice"}})"));
  // The context factory refuses before anything runs; the dispatcher renders API.md's error.
  r = call(m_router, post(R"({"query": "{ echo }"})"));
  EXPECT_EQ(r.status, 401u);
}

TEST_F(HttpBinding, GetServesQueriesOnly) {
  net::Request get;
  get.method = "GET";
  get.path = "/graphql";
  get.headers.emplace_back("x-user", "bob");
  get.query = {{"query", "query Q($t: String) { echo(text: $t) }"}, {"variables", R"({"t": "x"})"}};
  auto r = call(m_router, get);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, json::parse(R"({"data": {"echo": "bob"}})"));
  get.query = {{"query", "mutation { addPair(token0: \"1\", token1: \"2\") { id } }"}};
  r = call(m_router, get);
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.allow, "POST");
  get.query = {{"query", "{ echo }"}, {"variables", "[1]"}};
  EXPECT_EQ(call(m_router, get).status, 400u);
}

TEST_F(HttpBinding, StatusCodes) {
  EXPECT_EQ(call(m_router, post("{", "u")).status, 400u);
  EXPECT_EQ(call(m_router, post(R"({"variables": {}})", "u")).status, 400u);
  // A document that cannot run: 200 with errors only, or 400 for graphql-response+json clients.
  auto r = call(m_router, post(R"({"query": "{ nope }"})", "u"));
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.body.as_object().contains("data"));
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  auto request = post(R"({"query": "{ nope }"})", "u");
  request.headers.emplace_back("accept", "application/graphql-response+json, application/json;q=0.9");
  r = call(m_router, request);
  EXPECT_EQ(r.status, 400u);
  // Such a client gets the media type it asked for, with every status.
  EXPECT_EQ(r.content_type, "application/graphql-response+json; charset=utf-8");
  request.body = R"({"query": "{ echo }"})";
  r = call(m_router, request);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/graphql-response+json; charset=utf-8");
  request.body = "{";
  r = call(m_router, request);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.content_type, "application/graphql-response+json; charset=utf-8");
}

}  // namespace
}  // namespace gh::graphql
