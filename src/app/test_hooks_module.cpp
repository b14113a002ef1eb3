#include "app/test_hooks_module.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bus/bus.hpp"
#include "graphql/exec/sample_api.hpp"
#include "net/json.hpp"
#include "net/router.hpp"
#include "testhooks/migrations.hpp"

namespace gh::app {
namespace {

namespace json = boost::json;

struct TestHooks {
  store::Database* db = nullptr;
  BlockingPool* pool = nullptr;
  std::function<void()> events_published;
};

void add_routes(net::Router& router, const std::shared_ptr<TestHooks>& hooks) {
  router.add("POST", "/v1/_test/events", [hooks](net::Request& req) -> Task<Result<net::Response>> {
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* n = body->if_contains("n");
    if (!n || !n->is_int64()) co_return bad_input("invalid_field", "n must be an integer");
    auto event_id = co_await hooks->pool->run([&] {
      return hooks->db->transact([&](store::Tx& tx) {
        return bus::publish(tx, {"testhooks.recorded", "test", json::serialize(*body)});
      });
    });
    if (!event_id) co_return event_id.error();
    hooks->events_published();
    co_return net::json_response(201, json::object{{"event_id", *event_id}});
  });
  // Publishes any event, as another context would (tests of consumers whose producers are not
  // built yet): {"topic", "ordering_key"?, "payload": {...}}.
  router.add("POST", "/v1/_test/publish", [hooks](net::Request& req) -> Task<Result<net::Response>> {
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* topic = body->if_contains("topic");
    const auto* payload = body->if_contains("payload");
    if (topic == nullptr || !topic->is_string() || payload == nullptr || !payload->is_object())
      co_return bad_input("invalid_field", "topic must be a string and payload an object");
    const auto* key = body->if_contains("ordering_key");
    bus::NewEvent event{std::string(topic->as_string()),
                        key != nullptr && key->is_string() ? std::string(key->as_string()) : std::string("test"),
                        json::serialize(*payload)};
    auto event_id = co_await hooks->pool->run(
        [&] { return hooks->db->transact([&](store::Tx& tx) { return bus::publish(tx, event); }); });
    if (!event_id) co_return event_id.error();
    hooks->events_published();
    co_return net::json_response(201, json::object{{"event_id", *event_id}});
  });
  router.add("GET", "/v1/_test/effects", [hooks](net::Request&) -> Task<Result<net::Response>> {
    auto rows = co_await hooks->pool->run([&] {
      return hooks->db->read([](store::Tx& tx) {
        return tx.query("SELECT event_id, n, applied_count FROM testhooks_effects ORDER BY n");
      });
    });
    json::array effects;
    for (const auto& row : rows) {
      effects.push_back(
          json::object{{"event_id", row.get_text(0)}, {"n", row.get_int(1)}, {"applied_count", row.get_int(2)}});
    }
    co_return net::json_response(200, json::object{{"effects", effects}});
  });
  router.add("GET", "/v1/_test/outbox", [hooks](net::Request& req) -> Task<Result<net::Response>> {
    const std::string topic(req.query_param("topic").value_or(""));
    auto rows = co_await hooks->pool->run([&] {
      return hooks->db->read([&](store::Tx& tx) {
        return tx.query("SELECT event_id, topic, ordering_key, payload FROM bus_outbox WHERE topic = $1 ORDER BY id",
                        {topic});
      });
    });
    json::array events;
    for (const auto& row : rows) {
      events.push_back(json::object{{"event_id", row.get_text(0)},
                                    {"topic", row.get_text(1)},
                                    {"ordering_key", row.get_text(2)},
                                    {"payload", json::parse(row.get_text(3))}});
    }
    co_return net::json_response(200, json::object{{"events", events}});
  });
  router.add("GET", "/v1/_test/sleep", [](net::Request& req) -> Task<Result<net::Response>> {
    const auto ms = std::atoll(std::string(req.query_param("ms").value_or("100")).c_str());
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(std::clamp<long long>(ms, 0, 10'000)));
    co_await timer.async_wait(boost::asio::use_awaitable);
    co_return net::json_response(200, json::object{{"slept_ms", ms}});
  });
  // The GraphQL engine's sample API over fixed data, for the conformance tests against graphql-js.
  graphql::add_sample_graphql_routes(router);
}

bus::Consumer recorder() {
  return bus::Consumer{"testhooks.recorder", {"testhooks.recorded"}, [](store::Tx& tx, const bus::Event& e) {
                         const auto payload = json::parse(e.payload).as_object();
                         if (payload.contains("kill_during_apply") && payload.at("kill_during_apply").as_bool()) {
                           const char* kill = std::getenv("GATEHOUSE_TEST_KILL_IN_APPLY");
                           if (kill != nullptr && std::string(kill) == "1") ::raise(SIGKILL);
                         }
                         tx.exec(
                             "INSERT INTO testhooks_effects (event_id, n, applied_count) VALUES ($1, $2, 1) "
                             "ON CONFLICT (event_id) DO UPDATE SET applied_count = testhooks_effects.applied_count + 1",
                             {e.event_id, payload.at("n").as_int64()});
                       }};
}

// Jobs the jobs tests drive through `gatehouse jobs run`: one that fails, and one that holds its
// lease until the file named by GATEHOUSE_TEST_JOB_RELEASE_FILE exists (at most a minute).
std::vector<context::Job> test_jobs() {
  std::vector<context::Job> jobs;
  jobs.push_back({"testhooks.fails", "@yearly", "fails on purpose", []() -> Task<Result<void>> {
                    co_return make_error(ErrorKind::internal, "test_failure", "failed on purpose");
                  }});
  jobs.push_back({"testhooks.holds", "@yearly", "runs until released", []() -> Task<Result<void>> {
                    const char* file = std::getenv("GATEHOUSE_TEST_JOB_RELEASE_FILE");
                    if (file == nullptr) co_return ok();
                    const std::string path(file);
                    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
                    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
                    while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline) {
                      timer.expires_after(std::chrono::milliseconds(10));
                      co_await timer.async_wait(boost::asio::use_awaitable);
                    }
                    co_return ok();
                  }});
  return jobs;
}

}  // namespace

context::ContextModule test_hooks_module() {
  auto hooks = std::make_shared<TestHooks>();
  context::ContextModule m("testhooks", {testhooks::migrations()});
  m.start = [hooks](context::ContextEnv& env) {
    hooks->db = &env.db;
    hooks->pool = &env.pool;
    hooks->events_published = env.events_published;
  };
  m.consumers = [] { return std::vector<bus::Consumer>{recorder()}; };
  m.jobs = [] { return test_jobs(); };
  m.routes = [hooks](net::Router& router) { add_routes(router, hooks); };
  return m;
}

}  // namespace gh::app
