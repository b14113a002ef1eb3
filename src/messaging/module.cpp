#include "messaging/module.hpp"

#include "auth/routes.hpp"
#include "bus/bus.hpp"
#include "core/due_loop.hpp"
#include "messaging/community_access.hpp"
#include "messaging/migrations.hpp"
#include "messaging/routes.hpp"
#include "messaging/service.hpp"
#include "messaging/thread_access.hpp"

namespace gh::messaging {
namespace {

struct MessagingRuntime {
  MessagingModuleSettings settings;
  store::Database* db = nullptr;
  BlockingPool* pool = nullptr;
  std::function<void()> events_published;
  ChannelAccess* access = nullptr;
  std::unique_ptr<GrantedChannelAccess> granted;
  std::unique_ptr<CommunityChannelAccess> community;
  std::unique_ptr<AnyChannelAccess> any;
  std::unique_ptr<ThreadDirectory> threads;
  std::unique_ptr<ThreadAccess> thread_access;
  auth::RequestAuth* auth = nullptr;
  std::unique_ptr<MessagingService> service;
  /// Posts each poll's result as it ends (declared after the service, so it stops first).
  std::unique_ptr<DueLoop> poll_results;
  std::unique_ptr<net::RateLimiter> send_limiter;
  std::unique_ptr<net::RateLimiter> search_limiter;
  std::unique_ptr<net::RateLimiter> typing_limiter;
};

}  // namespace

context::ContextModule make_module(MessagingModuleSettings settings) {
  auto runtime = context::make_runtime<MessagingRuntime>(settings);
  context::ContextModule m("messaging", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    runtime->db = &env.db;
    runtime->pool = &env.pool;
    runtime->events_published = env.events_published;
    runtime->auth = env.services.find<auth::RequestAuth>();
    // Channel access is the community context's; without it every channel is closed. The test
    // hooks add explicit grants beside it.
    runtime->granted = std::make_unique<GrantedChannelAccess>();
    runtime->access = runtime->granted.get();
    if (auto* communities = env.services.find<community::CommunityService>()) {
      runtime->community = std::make_unique<CommunityChannelAccess>(*communities);
      runtime->access = runtime->community.get();
      if (runtime->settings.test_hooks) {
        std::vector<ChannelAccess*> sources{runtime->community.get(), runtime->granted.get()};
        runtime->any = std::make_unique<AnyChannelAccess>(std::move(sources));
        runtime->access = runtime->any.get();
      }
    }
    // Threads answer as their parent channels.
    runtime->threads = std::make_unique<ThreadDirectory>(env.db, env.pool);
    runtime->thread_access = std::make_unique<ThreadAccess>(*runtime->access, *runtime->threads);
    runtime->access = runtime->thread_access.get();
    auto* gateway = env.services.find<realtime::Gateway>();
    MessagingSettings service_settings;
    service_settings.search_window = static_cast<std::int64_t>(runtime->settings.search_window);
    service_settings.search_channels = runtime->settings.search_channels;
    runtime->service = std::make_unique<MessagingService>(env.db, env.pool, env.clock, *runtime->access, gateway,
                                                          env.events_published, service_settings);
    runtime->service->set_executor(env.executor);
    if (gateway) {
      gateway->add_topic_kind(std::string(channel_topic), runtime->service->topic_source());
      gateway->add_topic_kind(std::string(report_topic), runtime->service->report_topic_source());
    }
    runtime->send_limiter = std::make_unique<net::RateLimiter>(runtime->settings.send_per_account);
    runtime->search_limiter = std::make_unique<net::RateLimiter>(runtime->settings.search_per_account);
    runtime->typing_limiter = std::make_unique<net::RateLimiter>(runtime->settings.typing_per_channel);
    env.services.provide(*runtime->service);
    // Each poll's result as it ends: the loop sleeps until the earliest end, and looks again at
    // least every idle poll, which is shorter than any poll (a poll ended by its author has its
    // result posted at once).
    static_assert(MessagingModuleSettings{}.poll_results_idle_poll < std::chrono::hours(min_poll_hours));
    runtime->poll_results =
        poll_results_loop(env.executor, *runtime->service, runtime->settings.poll_results_idle_poll);
    if (runtime->settings.run_poll_results) runtime->poll_results->start();
  };
  m.consumers = [runtime]() {
    std::vector<bus::Consumer> out;
    out.push_back({"messaging.membership",
                   {"community.member_removed", "community.channel_access_changed", "community.role_changed"},
                   [runtime](store::Tx&, const bus::Event& event) {
                     if (runtime->service) runtime->service->on_membership_event(event);
                   }});
    // A timeout set or lifted: the member's sockets here learn it (a client disables its input).
    out.push_back({"messaging.timeouts", {"community.member_timeout"}, [runtime](store::Tx&, const bus::Event& event) {
                     if (runtime->service) runtime->service->on_timeout_event(event);
                   }});
    // A channel's name, topic, position, post roles, slow mode, archive or tags changed: its
    // subscribers here learn it, and a forum's posts lose the tags it removed.
    out.push_back(
        {"messaging.channel_updates", {"community.channel_updated"}, [runtime](store::Tx& tx, const bus::Event& event) {
           if (!runtime->service) return;
           runtime->service->on_forum_tags_changed(tx, event);
           runtime->service->on_channel_updated(event);
         }});
    // A ban that deletes the member's messages: one batch per transaction, continued through the
    // bus until done; the live frames follow from the committed deletions.
    out.push_back({"messaging.purge",
                   {"community.member_banned", "messaging.purge_continued"},
                   [runtime](store::Tx& tx, const bus::Event& event) {
                     if (runtime->service) runtime->service->purge_batch(tx, event);
                   }});
    // A thread deleted: its messages are tombstoned, one batch per transaction, continued through
    // the bus until done.
    out.push_back({"messaging.thread_purge",
                   {"messaging.thread_deleted", "messaging.thread_purge_continued"},
                   [runtime](store::Tx& tx, const bus::Event& event) {
                     if (runtime->service) runtime->service->purge_thread_batch(tx, event);
                   }});
    // One who left a community leaves the threads it joined there, a batch per transaction,
    // continued through the bus until done; the live frames follow from the committed batches.
    out.push_back({"messaging.thread_leaves",
                   {"community.member_removed", "messaging.thread_leaves_continued"},
                   [runtime](store::Tx& tx, const bus::Event& event) {
                     if (runtime->service) runtime->service->leave_community_threads(tx, event);
                   }});
    // A thread archived by inactivity: its subscribers here learn it.
    out.push_back({"messaging.thread_archive_frames",
                   {"messaging.thread_archived"},
                   [runtime](store::Tx& tx, const bus::Event& event) {
                     if (runtime->service) runtime->service->on_thread_archived(tx, event);
                   }});
    out.push_back({"messaging.thread_member_frames",
                   {"messaging.thread_members_removed"},
                   [runtime](store::Tx& tx, const bus::Event& event) {
                     if (runtime->service) runtime->service->on_thread_members_removed(tx, event);
                   }});
    // A member's nickname changed: the members following the community here learn it.
    out.push_back(
        {"messaging.member_updates", {"community.member_updated"}, [runtime](store::Tx&, const bus::Event& event) {
           if (runtime->service) runtime->service->on_member_updated(event);
         }});
    // A role was created, changed or deleted: the members following the community here learn it.
    out.push_back(
        {"messaging.role_updates", {"community.role_updated"}, [runtime](store::Tx&, const bus::Event& event) {
           if (runtime->service) runtime->service->on_role_updated(event);
         }});
    // A role renamed or deleted: the mentions of it written before follow, in this transaction.
    out.push_back(
        {"messaging.role_mentions", {"community.role_updated"}, [runtime](store::Tx& tx, const bus::Event& event) {
           if (runtime->service) runtime->service->on_role_renamed(tx, event);
         }});
    // A block whose rule names an alert channel: the alert is posted there, in this transaction.
    out.push_back(
        {"messaging.automod_alerts", {"community.automod_blocked"}, [runtime](store::Tx& tx, const bus::Event& event) {
           if (runtime->service) runtime->service->on_automod_blocked(tx, event);
         }});
    // A member who joined a community with a system channel is welcomed there.
    out.push_back(
        {"messaging.welcomes", {"community.member_joined"}, [runtime](store::Tx& tx, const bus::Event& event) {
           if (runtime->service) runtime->service->on_member_joined(tx, event);
         }});
    // Messages the server wrote (poll results, AutoMod alerts, welcomes): their live frames, once
    // committed.
    out.push_back(
        {"messaging.system_frames", {"messaging.system_message"}, [runtime](store::Tx& tx, const bus::Event& event) {
           if (runtime->service) runtime->service->on_system_message(tx, event);
         }});
    out.push_back(
        {"messaging.purge_frames", {"messaging.message_deleted"}, [runtime](store::Tx& tx, const bus::Event& event) {
           if (runtime->service) runtime->service->on_message_deleted(tx, event);
         }});
    return out;
  };
  m.jobs = [runtime] {
    std::vector<context::Job> jobs;
    jobs.push_back({"messaging.search_backfill", "* * * * *",
                    "indexes for search the messages written before the search index existed",
                    [runtime]() -> Task<Result<void>> {
                      if (!runtime->service) co_return ok();
                      auto indexed = co_await runtime->service->index_backlog();
                      if (!indexed) co_return indexed.error();
                      co_return ok();
                    }});
    jobs.push_back({"messaging.thread_archive", "* * * * *",
                    "records the threads whose inactivity ran out as archived, and tells their subscribers",
                    [runtime]() -> Task<Result<void>> {
                      if (!runtime->service) co_return ok();
                      auto archived = co_await runtime->service->archive_inactive_threads();
                      if (!archived) co_return archived.error();
                      co_return ok();
                    }});
    jobs.push_back({"messaging.reports_purge", "17 4 * * *",
                    "deletes the reports moderators closed longer ago than the report retention",
                    [runtime]() -> Task<Result<void>> {
                      if (!runtime->service) co_return ok();
                      auto purged = co_await runtime->service->purge_reports();
                      if (!purged) co_return purged.error();
                      co_return ok();
                    }});
    return jobs;
  };
  m.routes = [runtime](net::Router& router) {
    if (!runtime->auth) return;
    add_messaging_routes(router, *runtime->service, *runtime->auth, *runtime->send_limiter, *runtime->search_limiter,
                         *runtime->typing_limiter);
    if (runtime->settings.test_hooks && runtime->granted) {
      add_test_access_route(router, *runtime->granted, *runtime->db, *runtime->pool, runtime->events_published);
    }
  };
  return m;
}

}  // namespace gh::messaging
