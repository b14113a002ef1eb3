#include "messaging/module.hpp"

#include "auth/routes.hpp"
#include "bus/bus.hpp"
#include "messaging/migrations.hpp"
#include "messaging/routes.hpp"
#include "messaging/service.hpp"

namespace gh::messaging {
namespace {

struct MessagingRuntime {
  MessagingModuleSettings settings;
  store::Database* db = nullptr;
  BlockingPool* pool = nullptr;
  std::function<void()> events_published;
  ChannelAccess* access = nullptr;
  std::unique_ptr<GrantedChannelAccess> granted;
  auth::RequestAuth* auth = nullptr;
  std::unique_ptr<MessagingService> service;
  std::unique_ptr<net::RateLimiter> send_limiter;
};

}  // namespace

context::ContextModule make_module(MessagingModuleSettings settings) {
  auto runtime = std::make_shared<MessagingRuntime>();
  runtime->settings = settings;
  context::ContextModule m;
  m.name = "messaging";
  m.migrations = {migrations()};
  m.start = [runtime](context::ContextEnv& env) {
    runtime->db = &env.db;
    runtime->pool = &env.pool;
    runtime->events_published = env.events_published;
    runtime->auth = env.services.find<auth::RequestAuth>();
    // Until the community context is part of the product, channel access comes from explicit
    // grants (none outside the tests: every channel is closed).
    runtime->granted = std::make_unique<GrantedChannelAccess>();
    runtime->access = runtime->granted.get();
    auto* gateway = env.services.find<realtime::Gateway>();
    runtime->service = std::make_unique<MessagingService>(env.db, env.pool, env.clock, *runtime->access, gateway,
                                                          env.events_published);
    runtime->service->set_executor(env.executor);
    if (gateway) gateway->add_topic_kind(std::string(channel_topic), runtime->service->topic_source());
    runtime->send_limiter = std::make_unique<net::RateLimiter>(runtime->settings.send_per_account);
    env.services.provide(*runtime->service);
  };
  m.consumers = [runtime]() {
    std::vector<bus::Consumer> out;
    bus::Consumer c;
    c.name = "messaging.membership";
    c.topics = {"community.member_removed", "community.channel_access_changed", "community.role_changed"};
    c.apply = [runtime](store::Tx&, const bus::Event& event) {
      if (runtime->service) runtime->service->on_membership_event(event);
    };
    out.push_back(std::move(c));
    return out;
  };
  m.routes = [runtime](net::Router& router) {
    if (!runtime->auth) return;
    add_messaging_routes(router, *runtime->service, *runtime->auth, *runtime->send_limiter);
    if (runtime->settings.test_hooks && runtime->granted) {
      add_test_access_route(router, *runtime->granted, *runtime->db, *runtime->pool, runtime->events_published);
    }
  };
  return m;
}

}  // namespace gh::messaging
