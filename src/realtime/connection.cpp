#include "realtime/connection.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "net/json.hpp"
#include "realtime/gateway_state.hpp"
#include "realtime/service.hpp"

namespace gh::realtime {

namespace json = boost::json;
namespace asio = boost::asio;

std::string topic_key(std::string_view kind, std::string_view id) {
  std::string key;
  key.reserve(kind.size() + 1 + id.size());
  key.append(kind).append(1, ':').append(id);
  return key;
}

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A topic id as clients send it: a short printable string.
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
}

std::optional<std::int64_t> as_seq(const json::value& v) {
  if (v.is_int64() && v.as_int64() >= 0) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  return std::nullopt;
}

}  // namespace

Connection::Connection(std::shared_ptr<Gateway::State> state, Gateway::Identity who, std::string device_id,
                       std::string token, Presence presence, bool chosen)
    : m_state(std::move(state)),
      m_who(std::move(who)),
      m_account_key(eth::to_lower_hex(m_who.account)),
      m_device_id(std::move(device_id)),
      m_token(std::move(token)),
      m_initial_presence(std::make_unique<Presence>(std::move(presence))),
      m_chosen(chosen) {}

void Connection::on_open(std::shared_ptr<net::WebSocket> socket) {
  m_socket = std::move(socket);
  const auto added = m_state->add(shared_from_this());
  if (!added) {
    // Opened concurrently with the account's other sockets, past the route's check.
    m_socket->close(1008, "too many sockets for this account");
    return;
  }
  const bool first = *added;
  json::object hello{{"type", "hello"}, {"session", m_who.session_id}, {"account", eth::to_checksum(m_who.account)}};
  if (!m_device_id.empty()) hello["device_id"] = m_device_id;
  // What the account chose holds before anyone is told it came online, so an invisible account
  // never shows online for a moment. Later sockets keep what the first set (and what the account
  // changed since), unless the upgrade asked for a status.
  auto initial = std::move(m_initial_presence);
  if (initial && (first || m_chosen)) m_state->set_presence(m_account_key, std::move(*initial));
  const auto shown = m_state->own_presence(m_account_key);
  hello["status"] = shown.status;
  hello["custom_status"] = render_custom_status(shown.custom);
  send_json(hello);
  if (first || m_chosen) m_state->announce_presence(m_who, m_account_key);
}

void Connection::on_close() {
  const auto held = topics();
  {
    std::lock_guard lock(m_mutex);
    m_subs.clear();
  }
  const bool last = m_state->remove(shared_from_this(), held);
  if (last) {
    m_state->forget_presence(m_account_key);
    m_state->announce_presence(m_who, m_account_key);
  }
}

std::vector<std::string> Connection::topics() const {
  std::lock_guard lock(m_mutex);
  std::vector<std::string> out;
  out.reserve(m_subs.size());
  for (const auto& [key, sub] : m_subs) out.push_back(key);
  return out;
}

bool Connection::send(const net::SharedFrame& frame) {
  return m_socket && m_socket->send(frame);
}

void Connection::close(std::uint16_t code, std::string reason) {
  if (m_socket) m_socket->close(code, std::move(reason));
}

void Connection::send_json(const json::object& frame) {
  send(net::EncodedFrame::text(json::serialize(frame)));
}

void Connection::send_error(std::string_view code, std::string_view message, const json::object* extra) {
  json::object frame{{"type", "error"}, {"code", code}, {"message", message}};
  if (extra) {
    for (const auto& [k, v] : *extra) frame[k] = v;
  }
  send_json(frame);
}

bool Connection::drop(const std::string& key) {
  std::lock_guard lock(m_mutex);
  return m_subs.erase(key) > 0;
}

bool Connection::deliver(const std::string& key, std::int64_t seq, const net::SharedFrame& frame) {
  if (begin_delivery(key, seq, frame) != Delivery::gap) return true;
  // A gap: an earlier frame is still on its way or was published elsewhere. History has it.
  // Spawned outside the lock: the catch-up takes it too.
  asio::co_spawn(m_socket->executor(), shared_from_this()->catch_up(key), LoggedDetached("realtime.catch_up"));
  return true;
}

Connection::Delivery Connection::begin_delivery(const std::string& key, std::int64_t seq,
                                                const net::SharedFrame& frame) {
  std::lock_guard lock(m_mutex);
  auto it = m_subs.find(key);
  if (it == m_subs.end()) return Delivery::done;
  auto& sub = it->second;
  if (sub.catching_up) {
    sub.max_seen = std::max(sub.max_seen, seq);
    return Delivery::done;
  }
  if (seq <= sub.last) return Delivery::done;  // delivered already (by a catch-up)
  if (seq == sub.last + 1) {
    sub.last = seq;
    m_socket->send(frame);
    return Delivery::done;
  }
  sub.catching_up = true;
  sub.max_seen = seq;
  return Delivery::gap;
}

// The locked steps of catch_up and subscribe are plain functions: a lock never lives in a
// coroutine frame (GCC 12 does not always release one at co_return, docs/coroutines.md).
std::optional<Connection::Cursor> Connection::cursor(const std::string& key) const {
  std::lock_guard lock(m_mutex);
  auto it = m_subs.find(key);
  if (it == m_subs.end()) return std::nullopt;
  return Cursor{it->second.last, it->second.source, it->second.id};
}

bool Connection::apply_page(const std::string& key, std::vector<SequencedFrame>& page, std::size_t page_size) {
  std::lock_guard lock(m_mutex);
  auto it = m_subs.find(key);
  if (it == m_subs.end()) return true;
  auto& sub = it->second;
  for (auto& f : page) {
    if (f.seq <= sub.last) continue;
    sub.last = f.seq;
    m_socket->send(net::EncodedFrame::text(std::move(f.frame)));
  }
  if (page.empty() || (page.size() < page_size && sub.max_seen <= sub.last)) {
    sub.catching_up = false;
    return true;
  }
  return false;
}

bool Connection::room_for(const std::string& key) const {
  std::lock_guard lock(m_mutex);
  return m_subs.find(key) != m_subs.end() || m_subs.size() < m_state->settings.max_subscriptions_per_socket;
}

void Connection::add_subscription(const std::string& key, Subscription sub) {
  std::lock_guard lock(m_mutex);
  m_subs.insert_or_assign(key, std::move(sub));
}

bool Connection::start_at(const std::string& key, std::optional<std::int64_t> resume_from, std::int64_t head) {
  std::lock_guard lock(m_mutex);
  auto it = m_subs.find(key);
  if (it == m_subs.end()) return false;  // dropped meanwhile (membership removed)
  auto& sub = it->second;
  // A plain subscribe starts after the head; a resume never goes past it.
  sub.last = resume_from ? std::min(*resume_from, head) : head;
  sub.max_seen = std::max(sub.max_seen, head);
  return true;
}

bool Connection::subscribed_to(const std::string& key) const {
  std::lock_guard lock(m_mutex);
  return m_subs.find(key) != m_subs.end();
}

bool Connection::typing_allowed(const std::string& key) {
  std::lock_guard lock(m_mutex);
  auto it = m_subs.find(key);
  if (it == m_subs.end()) return false;
  const auto now = steady_ms();
  if (now - it->second.last_typing_ms < m_state->settings.typing_interval_ms) return false;
  it->second.last_typing_ms = now;
  return true;
}

Task<void> Connection::catch_up(std::string key) {
  auto self = shared_from_this();
  // A long backlog goes out at the pace the client reads it: a page at most half the send queue,
  // read once the queue is down to a quarter, so a resume never overflows it.
  const auto room = std::max<std::size_t>(1, m_socket->max_queued_messages() / 2);
  const auto page_size = std::min(m_state->settings.history_page, room);
  const auto low_messages = m_socket->max_queued_messages() / 4;
  const auto low_bytes = m_socket->max_queued_bytes() / 4;
  asio::steady_timer pause(m_socket->executor());
  for (;;) {
    auto at = cursor(key);
    if (!at) break;
    // A client that reads nothing for the stall timeout is as far behind as one whose queue
    // overflows: it is told to resume, and holds nothing meanwhile.
    auto progress_at = steady_ms();
    auto queued = m_socket->queued_messages();
    bool stalled = false;
    while (!m_socket->closing() &&
           (m_socket->queued_messages() > low_messages || m_socket->queued_bytes() > low_bytes)) {
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      const auto now = steady_ms();
      if (m_socket->queued_messages() < queued) progress_at = now;
      queued = m_socket->queued_messages();
      if (now - progress_at > m_state->settings.stall_timeout_ms) {
        stalled = true;
        break;
      }
    }
    if (stalled) {
      close(net::close_code::resume, "too far behind: reconnect and resume");
      break;
    }
    if (m_socket->closing()) break;
    // A read that throws (the database lost) ends the catch-up as a failed one does: this may run
    // detached (a gap seen by deliver), where an escaping exception would end it silently and
    // leave the subscription catching up for good, taking no frame.
    std::optional<Result<std::vector<SequencedFrame>>> page;
    try {
      page.emplace(co_await at->source->history(m_who.account, at->id, at->last, page_size));
    } catch (const std::exception& e) {
      page.emplace(internal_error(e.what()));
    }
    if (!*page) {
      log::warn("history read failed", {{"topic", key}, {"error", page->error().message}});
      close(net::close_code::resume, "history unavailable: resume later");
      break;
    }
    if (apply_page(key, **page, page_size)) break;
  }
}

Task<void> Connection::subscribe(std::string kind, const TopicSource* source, std::string id,
                                 std::optional<std::int64_t> resume_from) {
  const auto key = topic_key(kind, id);
  json::object about{{source->id_field, id}};
  if (!room_for(key)) {
    send_error("too_many_subscriptions", "this socket holds the most subscriptions it may", &about);
    co_return;
  }
  auto allowed = co_await source->authorize(m_who.account, id);
  if (!allowed) {
    send_error(allowed.error().code, allowed.error().message, &about);
    co_return;
  }
  if (!*allowed) {
    send_error("forbidden", "you may not read this " + kind, &about);
    co_return;
  }
  // Registered before the head is read, in catch-up mode: a frame published meanwhile is not
  // lost, it is read from history below.
  Subscription sub;
  sub.kind = kind;
  sub.id = id;
  sub.source = source;
  sub.last = resume_from.value_or(0);
  add_subscription(key, std::move(sub));
  m_state->subscribe(key, shared_from_this());
  auto head = co_await source->head(id);
  if (!head) {
    drop(key);
    m_state->unsubscribe(key, this);
    send_error(head.error().code, head.error().message, &about);
    co_return;
  }
  if (!start_at(key, resume_from, head->seq)) co_return;
  co_await catch_up(key);
  auto done = cursor(key);
  if (!done) co_return;
  json::object subscribed{{"type", "subscribed"}, {source->id_field, id}, {"seq", done->last}};
  for (auto& [name, value] : head->fields) subscribed[name] = std::move(value);
  send_json(subscribed);
}

Task<void> Connection::on_message(std::string message) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 8;
  auto value = json::parse(message, ec, {}, options);
  if (ec || !value.is_object()) {
    send_error("bad_frame", "frames are JSON objects with a type");
    co_return;
  }
  if (auto where = net::nul_in(value)) {
    send_error("bad_frame", *where + " holds U+0000, which no field takes");
    co_return;
  }
  co_await handle(value.as_object());
}

Task<void> Connection::handle(json::object& frame) {
  const auto* type_value = frame.if_contains("type");
  if (!type_value || !type_value->is_string()) {
    send_error("bad_frame", "frames are JSON objects with a type");
    co_return;
  }
  const std::string type(type_value->as_string());

  if (type == "ping") {
    json::object pong{{"type", "pong"}};
    if (const auto* ref = frame.if_contains("id")) pong["id"] = *ref;
    send_json(pong);
    co_return;
  }

  if (type == "subscribe" || type == "unsubscribe") {
    bool any = false;
    for (const auto& [kind, source] : m_state->kinds) {
      const auto* ids = frame.if_contains(source.id_field + "s");
      if (!ids) continue;
      any = true;
      if (!ids->is_array() || ids->as_array().size() > m_state->settings.max_subscriptions_per_socket) {
        send_error("bad_frame", source.id_field + "s must be an array of ids");
        continue;
      }
      for (const auto& v : ids->as_array()) {
        if (!v.is_string() || !valid_id(v.as_string())) {
          send_error("bad_frame", source.id_field + "s must hold ids");
          continue;
        }
        std::string id(v.as_string());
        if (type == "subscribe") {
          co_await subscribe(kind, &source, id, std::nullopt);
        } else {
          const auto key = topic_key(kind, id);
          drop(key);
          m_state->unsubscribe(key, this);
          json::object done{{"type", "unsubscribed"}, {source.id_field, id}};
          send_json(done);
        }
      }
    }
    if (!any) send_error("bad_frame", type + " names no topics (channel_ids, group_ids)");
    co_return;
  }

  if (type == "resume") {
    bool any = false;
    for (const auto& [kind, source] : m_state->kinds) {
      const auto* map = frame.if_contains(source.resume_field);
      if (!map) continue;
      any = true;
      if (!map->is_object()) {
        send_error("bad_frame", source.resume_field + " must map ids to the last seq received");
        continue;
      }
      for (const auto& [k, v] : map->as_object()) {
        const auto seq = as_seq(v);
        if (!valid_id(k) || !seq) {
          send_error("bad_frame", source.resume_field + " must map ids to the last seq received");
          continue;
        }
        co_await subscribe(kind, &source, std::string(k), *seq);
      }
    }
    if (!any) send_error("bad_frame", "resume names no topics (channels, groups)");
    co_return;
  }

  if (type == "ack" || type == "typing") {
    for (const auto& [kind, source] : m_state->kinds) {
      const auto* idv = frame.if_contains(source.id_field);
      if (!idv) continue;
      if (!idv->is_string() || !valid_id(idv->as_string())) break;
      std::string id(idv->as_string());
      const auto key = topic_key(kind, id);
      json::object about{{source.id_field, id}};
      const bool subscribed = subscribed_to(key);
      const bool throttled = subscribed && type == "typing" && !typing_allowed(key);
      if (!subscribed) {
        send_error("not_subscribed", "subscribe to the topic first", &about);
        co_return;
      }
      if (type == "typing") {
        if (throttled) co_return;
        if (source.may_write) {
          auto may = co_await source.may_write(m_who.account, id);
          if (!may) {
            const auto& e = may.error();
            if (!e.details_json.empty()) {
              boost::system::error_code ec;
              auto details = json::parse(e.details_json, ec);
              if (!ec && details.is_object()) {
                for (const auto& [k, v] : details.as_object()) about[k] = v;
              }
            }
            send_error(e.code, e.message, &about);
            co_return;
          }
        }
        json::object out{{"type", "typing"}, {source.id_field, id}, {"account", eth::to_checksum(m_who.account)}};
        auto text = net::EncodedFrame::text(json::serialize(out));
        auto subs = m_state->subscribers(key);
        if (!subs) co_return;
        for (const auto& c : *subs) {
          if (c->account_key() != m_account_key) c->send(text);
        }
        co_return;
      }
      const auto* seqv = frame.if_contains("seq");
      const auto seq = seqv ? as_seq(*seqv) : std::nullopt;
      if (!seq) {
        send_error("bad_frame", "ack needs a seq", &about);
        co_return;
      }
      if (source.ack) {
        auto acked = co_await source.ack(m_who.account, id, *seq);
        if (!acked) send_error(acked.error().code, acked.error().message, &about);
      }
      co_return;
    }
    send_error("bad_frame", type + " names no topic (channel_id, group_id)");
    co_return;
  }

  if (type == "presence_set") {
    // The same change as PUT /v1/me/presence: stored for every node and reconnect, then shown.
    const auto now = m_state->clock ? m_state->clock->now() : std::chrono::system_clock::now();
    auto change = parse_presence_change(frame, now, true);
    if (!change) {
      send_error(change.error().code, change.error().message);
      co_return;
    }
    Presence next;
    if (m_state->presence_service) {
      auto stored = co_await m_state->presence_service->change(m_who.account, std::move(*change));
      if (!stored) {
        send_error(stored.error().code, stored.error().message);
        co_return;
      }
      next = std::move(*stored);
    } else {
      next = apply_change(m_state->own_presence(m_account_key), *change);
    }
    m_state->show(m_who, m_account_key, next);
    co_return;
  }

  if (type == "presence_query") {
    for (const auto& [kind, source] : m_state->kinds) {
      const auto* idv = frame.if_contains(source.id_field);
      if (!idv || !idv->is_string()) continue;
      std::string id(idv->as_string());
      const auto key = topic_key(kind, id);
      json::object about{{source.id_field, id}};
      const bool subscribed = subscribed_to(key);
      if (!subscribed) {
        send_error("not_subscribed", "subscribe to the topic first", &about);
        co_return;
      }
      // Online here means: an open socket subscribed to this topic, of an account not invisible.
      std::map<std::string, Presence> accounts;
      if (auto subs = m_state->subscribers(key)) {
        for (const auto& c : *subs) {
          if (accounts.count(c->account_key()) == 0)
            accounts.emplace(c->account_key(), m_state->visible_presence(c->account_key()));
        }
      }
      json::array online;
      json::object statuses;
      json::object custom_statuses;
      for (const auto& [account, presence] : accounts) {
        if (presence.status == "offline") continue;
        const auto shown = eth::to_checksum(*eth::parse_address(account));
        online.emplace_back(shown);
        if (presence.status != "online") statuses[shown] = presence.status;
        if (presence.custom) custom_statuses[shown] = render_custom_status(presence.custom);
      }
      json::object out{{"type", "presence_state"},
                       {source.id_field, id},
                       {"online", std::move(online)},
                       {"statuses", std::move(statuses)},
                       {"custom_statuses", std::move(custom_statuses)}};
      send_json(out);
      co_return;
    }
    send_error("bad_frame", "presence_query names no topic (channel_id, group_id)");
    co_return;
  }

  send_error("unknown_type", "unknown frame type '" + std::string(utf8_prefix(type, 32)) + "'");
}

}  // namespace gh::realtime
