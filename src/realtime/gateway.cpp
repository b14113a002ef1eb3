#include "realtime/gateway.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "realtime/gateway_state.hpp"
#include "realtime/service.hpp"

namespace gh::realtime {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

void add_to(std::unordered_map<std::string, ConnectionList>& index, const std::string& key,
            const std::shared_ptr<Connection>& c) {
  if (key.empty()) return;
  index[key].push_back(c);
}

void remove_from(std::unordered_map<std::string, ConnectionList>& index, const std::string& key, const Connection* c) {
  auto it = index.find(key);
  if (it == index.end()) return;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(), [c](const auto& p) { return p.get() == c; }), list.end());
  if (list.empty()) index.erase(it);
}

// Every open socket's session is checked again each interval, once per session however many
// sockets it holds: a session that ended (revoked without an event reaching this node, expired)
// has its sockets closed with 4001. One timer for the node: an idle socket costs no wake-up.
Task<void> check_sessions_periodically(std::weak_ptr<Gateway::State> weak, std::shared_ptr<asio::steady_timer> timer,
                                       std::int64_t interval_ms) {
  for (;;) {
    timer->expires_after(std::chrono::milliseconds(interval_ms));
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // cancelled: the gateway is going away
    auto state = weak.lock();
    if (!state) co_return;
    const auto sessions = state->session_tokens();
    for (const auto& session : sessions) {
      // A check that fails (the database out of reach) keeps the session's sockets until the next
      // round; one that throws must not end this loop, which runs for the gateway's lifetime.
      std::optional<Result<Gateway::Identity>> who;
      try {
        who.emplace(co_await state->authenticate(session.second));
      } catch (const std::exception& e) {
        log::warn("websocket session check failed", {{"error", e.what()}});
        continue;
      }
      if (*who || who->error().kind != ErrorKind::unauthorized) continue;
      for (const auto& c : state->of_session(session.first)) c->close(net::close_code::unauthorized, "session ended");
    }
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Gateway::State::session_tokens() const {
  std::lock_guard lock(mutex);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(by_session.size());
  for (const auto& [session_id, list] : by_session) {
    if (!list.empty()) out.emplace_back(session_id, list.front()->token());
  }
  return out;
}

ConnectionList Gateway::State::of_session(const std::string& session_id) const {
  std::lock_guard lock(mutex);
  auto it = by_session.find(session_id);
  return it == by_session.end() ? ConnectionList{} : it->second;
}

std::optional<bool> Gateway::State::add(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex);
  if (auto it = by_account.find(connection->account_key());
      it != by_account.end() && it->second.size() >= settings.max_sockets_per_account) {
    return std::nullopt;
  }
  connection->set_id(++next_id);
  connections.emplace(connection->id(), connection);
  const bool first = by_account.find(connection->account_key()) == by_account.end();
  add_to(by_account, connection->account_key(), connection);
  add_to(by_session, connection->identity().session_id, connection);
  add_to(by_device, connection->device_id(), connection);
  return first;
}

bool Gateway::State::remove(const std::shared_ptr<Connection>& connection, const std::vector<std::string>& held) {
  std::lock_guard lock(mutex);
  if (connections.erase(connection->id()) == 0) return false;
  remove_from(by_account, connection->account_key(), connection.get());
  remove_from(by_session, connection->identity().session_id, connection.get());
  remove_from(by_device, connection->device_id(), connection.get());
  for (const auto& key : held) {
    auto it = topics.find(key);
    if (it == topics.end()) continue;
    auto next = std::make_shared<ConnectionList>();
    next->reserve(it->second->size());
    for (const auto& c : *it->second) {
      if (c.get() != connection.get()) next->push_back(c);
    }
    if (next->empty()) {
      topics.erase(it);
    } else {
      it->second = std::move(next);
    }
  }
  return by_account.find(connection->account_key()) == by_account.end();
}

void Gateway::State::subscribe(const std::string& key, const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex);
  if (connections.find(connection->id()) == connections.end()) return;  // already closed
  auto& slot = topics[key];
  auto next = std::make_shared<ConnectionList>();
  if (slot) {
    next->reserve(slot->size() + 1);
    *next = *slot;
  }
  if (std::find(next->begin(), next->end(), connection) == next->end()) next->push_back(connection);
  slot = std::move(next);
}

void Gateway::State::unsubscribe(const std::string& key, const Connection* connection) {
  std::lock_guard lock(mutex);
  auto it = topics.find(key);
  if (it == topics.end()) return;
  auto next = std::make_shared<ConnectionList>();
  next->reserve(it->second->size());
  for (const auto& c : *it->second) {
    if (c.get() != connection) next->push_back(c);
  }
  if (next->empty()) {
    topics.erase(it);
  } else {
    it->second = std::move(next);
  }
}

std::shared_ptr<const ConnectionList> Gateway::State::subscribers(const std::string& key) const {
  std::lock_guard lock(mutex);
  auto it = topics.find(key);
  return it == topics.end() ? nullptr : it->second;
}

ConnectionList Gateway::State::of_account(const std::string& account_key) const {
  std::lock_guard lock(mutex);
  auto it = by_account.find(account_key);
  return it == by_account.end() ? ConnectionList{} : it->second;
}

bool Gateway::State::online(const std::string& account_key) const {
  std::lock_guard lock(mutex);
  return by_account.find(account_key) != by_account.end();
}

void Gateway::State::presence_fired(const std::string& account_key) {
  std::lock_guard lock(presence_mutex);
  presence.fired(account_key, PresenceThrottle::Clock::now());
}

boost::json::object presence_frame(const eth::Address& account, const Presence& presence) {
  return json::object{{"type", "presence"},
                      {"account", eth::to_checksum(account)},
                      {"status", presence.status},
                      {"custom_status", render_custom_status(presence.custom)}};
}

namespace {

// Waits until `custom` expires by the gateway's clock (again, when a test clock says it has not
// yet), then tells the state.
Task<void> expire_custom_status(std::weak_ptr<Gateway::State> weak, std::shared_ptr<asio::steady_timer> timer,
                                std::string account_key, CustomStatus custom) {
  for (;;) {
    auto state = weak.lock();
    if (!state || state->clock == nullptr || !custom.expires_at) co_return;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*custom.expires_at - state->clock->now());
    if (left.count() <= 0) {
      state->custom_status_expired(account_key, custom);
      co_return;
    }
    state.reset();
    timer->expires_after(left);
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // replaced, forgotten, or the gateway is going away
  }
}

}  // namespace

void Gateway::State::set_presence(const std::string& account_key, Presence shown) {
  std::lock_guard lock(presence_mutex);
  if (auto it = expiry_timers.find(account_key); it != expiry_timers.end()) {
    if (auto timer = it->second.lock()) timer->cancel();
    expiry_timers.erase(it);
  }
  if (shown.custom && shown.custom->expires_at && clock != nullptr) {
    auto timer = std::make_shared<asio::steady_timer>(executor);
    expiry_timers[account_key] = timer;
    asio::co_spawn(executor, expire_custom_status(weak_from_this(), std::move(timer), account_key, *shown.custom),
                   LoggedDetached("realtime.custom_status_expiry"));
  }
  if (shown == Presence{}) {
    presences.erase(account_key);
  } else {
    presences[account_key] = std::move(shown);
  }
}

void Gateway::State::forget_presence(const std::string& account_key) {
  std::lock_guard lock(presence_mutex);
  presences.erase(account_key);
  if (auto it = expiry_timers.find(account_key); it != expiry_timers.end()) {
    if (auto timer = it->second.lock()) timer->cancel();
    expiry_timers.erase(it);
  }
}

void Gateway::State::cancel_expiry_timers() {
  std::lock_guard lock(presence_mutex);
  for (auto& [key, weak] : expiry_timers) {
    if (auto timer = weak.lock()) timer->cancel();
  }
  expiry_timers.clear();
}

void Gateway::State::custom_status_expired(const std::string& account_key, const CustomStatus& custom) {
  {
    std::lock_guard lock(presence_mutex);
    auto it = presences.find(account_key);
    if (it == presences.end() || it->second.custom != custom) return;  // changed since, or gone
    it->second.custom.reset();
    if (it->second == Presence{}) presences.erase(it);
    expiry_timers.erase(account_key);
  }
  const auto account = eth::parse_address(account_key);
  if (!account) return;
  const Identity who{*account, {}};
  auto text = net::EncodedFrame::text(json::serialize(presence_frame(who.account, own_presence(account_key))));
  for (const auto& c : of_account(account_key)) c->send(text);
  announce_presence(who, account_key);
}

Presence Gateway::State::own_presence(const std::string& account_key) const {
  Presence out;
  {
    std::lock_guard lock(presence_mutex);
    auto it = presences.find(account_key);
    if (it != presences.end()) out = it->second;
  }
  return clock ? effective(std::move(out), clock->now()) : out;
}

Presence Gateway::State::visible_presence(const std::string& account_key) const {
  auto shown = own_presence(account_key);
  if (shown.status == "invisible" || !online(account_key)) return Presence{"offline", std::nullopt};
  return shown;
}

void Gateway::State::show(const Gateway::Identity& who, const std::string& account_key, const Presence& shown) {
  const auto mine = of_account(account_key);
  if (mine.empty()) return;
  set_presence(account_key, shown);
  // The account's own sockets (its other devices) show what it chose, invisible included; others
  // see what visible_presence says, through the presence throttle.
  auto text = net::EncodedFrame::text(json::serialize(presence_frame(who.account, own_presence(account_key))));
  for (const auto& c : mine) c->send(text);
  announce_presence(who, account_key);
}

void Gateway::State::announce_presence(Gateway::Identity who, std::string account_key, int attempt) {
  PresenceThrottle::Decision decision;
  {
    std::lock_guard lock(presence_mutex);
    decision = presence.change(account_key, PresenceThrottle::Clock::now());
  }
  if (decision.kind == PresenceThrottle::Decision::Kind::pending) return;  // the due one says it
  auto self = shared_from_this();
  boost::asio::co_spawn(
      executor,
      [self, who, account_key, decision, attempt]() -> Task<void> {
        if (decision.kind == PresenceThrottle::Decision::Kind::later) {
          boost::asio::steady_timer timer(self->executor);
          timer.expires_at(decision.at);
          auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;  // shutting down
          self->presence_fired(account_key);
        }
        // The audience: sockets subscribed to a topic the account may read. The status is read when
        // the frame goes out, so a quick reconnect never leaves "offline" as the last word.
        std::set<const Connection*> told;
        ConnectionList audience;
        // A kind whose topics could not be read: its audience is told when the announcement is
        // made again (the others get the same frame twice, which changes nothing for them).
        std::optional<std::string> unread;
        for (const auto& [kind, source] : self->kinds) {
          if (!source.readable) continue;
          Result<std::vector<std::string>> ids = std::vector<std::string>{};
          try {
            ids = co_await source.readable(who.account);
          } catch (const std::exception& e) {
            ids = internal_error(e.what());
          }
          if (!ids) {
            unread = ids.error().message;
            continue;
          }
          for (const auto& id : *ids) {
            auto subs = self->subscribers(topic_key(kind, id));
            if (!subs) continue;
            for (const auto& c : *subs) {
              if (c->account_key() == account_key || !told.insert(c.get()).second) continue;
              audience.push_back(c);
            }
          }
        }
        if (!audience.empty()) {
          auto text = net::EncodedFrame::text(
              json::serialize(presence_frame(who.account, self->visible_presence(account_key))));
          for (const auto& c : audience) c->send(text);
        }
        if (!unread) co_return;
        if (attempt >= self->settings.presence_retries) {
          log::warn("presence not announced", {{"account", eth::to_checksum(who.account)}, {"error", *unread}});
          co_return;
        }
        boost::asio::steady_timer retry(self->executor);
        retry.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(self->settings.presence_retry_ms, 1)) *
                            (std::int64_t{1} << std::min(attempt, 16)));
        const auto waited = co_await retry.async_wait(asio::as_tuple(asio::use_awaitable));
        if (std::get<0>(waited)) co_return;  // shutting down
        self->announce_presence(who, account_key, attempt + 1);
      },
      LoggedDetached("realtime.presence"));
}

Gateway::Gateway(Executor executor, GatewaySettings settings, Authenticate authenticate, PresenceService* presence)
    : m_state(std::make_shared<State>()) {
  m_state->executor = std::move(executor);
  m_state->presence_service = presence;
  if (presence) m_state->clock = &presence->clock();
  m_state->settings = settings;
  m_state->presence =
      PresenceThrottle(std::chrono::milliseconds(std::max<std::int64_t>(settings.presence_interval_ms, 0)));
  m_state->authenticate = std::move(authenticate);
  if (settings.fanout_shards > 1) {
    for (std::size_t i = 0; i < settings.fanout_shards; ++i)
      m_state->shards.push_back(asio::make_strand(m_state->executor));
  }
  if (settings.reauth_interval_ms > 0) {
    auto timer = std::make_shared<asio::steady_timer>(m_state->executor);
    m_state->check_timer = timer;
    asio::co_spawn(m_state->executor,
                   check_sessions_periodically(m_state, std::move(timer), settings.reauth_interval_ms),
                   LoggedDetached("realtime.session_checks"));
  }
}

Gateway::~Gateway() {
  if (auto timer = m_state->check_timer.lock()) timer->cancel();
  m_state->cancel_expiry_timers();
  // Sockets still open hold the state through their connections; they end with the server.
  std::lock_guard lock(m_state->mutex);
  m_state->topics.clear();
}

void Gateway::add_topic_kind(std::string kind, TopicSource source) {
  m_state->kinds.insert_or_assign(std::move(kind), std::move(source));
}

bool Gateway::account_online(const eth::Address& account) const {
  std::lock_guard lock(m_state->mutex);
  return m_state->by_account.find(eth::to_lower_hex(account)) != m_state->by_account.end();
}

bool Gateway::device_online(std::string device_id) const {
  std::lock_guard lock(m_state->mutex);
  return m_state->by_device.find(device_id) != m_state->by_device.end();
}

std::string Gateway::status_of(const eth::Address& account) const {
  const auto key = eth::to_lower_hex(account);
  if (!m_state->online(key)) return "offline";
  return m_state->own_presence(key).status;
}

void Gateway::show_presence(const eth::Address& account, const Presence& presence) {
  // The announcement names the account only; the session of the identity is not used.
  m_state->show(Identity{account, {}}, eth::to_lower_hex(account), presence);
}

std::size_t Gateway::send_to_account(const eth::Address& account, std::string frame_json) {
  const auto list = m_state->of_account(eth::to_lower_hex(account));
  auto frame = net::EncodedFrame::text(std::move(frame_json));
  std::size_t n = 0;
  for (const auto& c : list) n += c->send(frame) ? 1U : 0U;
  return n;
}

std::size_t Gateway::send_to_device(std::string device_id, std::string frame_json) {
  ConnectionList list;
  {
    std::lock_guard lock(m_state->mutex);
    if (auto it = m_state->by_device.find(device_id); it != m_state->by_device.end()) list = it->second;
  }
  auto frame = net::EncodedFrame::text(std::move(frame_json));
  std::size_t n = 0;
  for (const auto& c : list) n += c->send(frame) ? 1U : 0U;
  return n;
}

std::size_t Gateway::publish(std::string_view kind, std::string_view id, std::int64_t seq, std::string frame_json) {
  const auto key = topic_key(kind, id);
  auto subs = m_state->subscribers(key);
  if (!subs) return 0;
  auto frame = net::EncodedFrame::text(std::move(frame_json));
  const auto shards = m_state->shards.size();
  if (shards < 2 || subs->size() < m_state->settings.fanout_shard_min) {
    std::size_t n = 0;
    for (const auto& c : *subs) n += c->deliver(key, seq, frame) ? 1U : 0U;
    return n;
  }
  // Each strand writes its share of the sockets, chosen by the socket's id (stable while the list
  // changes under later messages); the strands run on the I/O threads in parallel. A topic whose
  // list shrinks below fanout_shard_min while a sharded message is still queued may deliver the
  // next one first: that socket sees a gap and catches up from history, as after any race.
  for (std::size_t s = 0; s < shards; ++s) {
    asio::post(m_state->shards[s], [subs, frame, key, seq, s, shards] {
      for (const auto& c : *subs) {
        if (c->id() % shards == s) c->deliver(key, seq, frame);
      }
    });
  }
  return subs->size();
}

std::size_t Gateway::broadcast(std::string_view kind, std::string_view id, std::string frame_json,
                               const eth::Address* except) {
  auto subs = m_state->subscribers(topic_key(kind, id));
  if (!subs) return 0;
  const std::string skip = except ? eth::to_lower_hex(*except) : std::string();
  auto frame = net::EncodedFrame::text(std::move(frame_json));
  std::size_t n = 0;
  for (const auto& c : *subs) {
    if (!skip.empty() && c->account_key() == skip) continue;
    n += c->send(frame) ? 1U : 0U;
  }
  return n;
}

std::size_t Gateway::unsubscribe(const eth::Address& account, std::string_view kind,
                                 const std::vector<std::string>& ids, std::string frame_json) {
  const auto list = m_state->of_account(eth::to_lower_hex(account));
  auto frame = net::EncodedFrame::text(std::move(frame_json));
  std::size_t n = 0;
  for (const auto& c : list) {
    bool had = false;
    for (const auto& id : ids) {
      const auto key = topic_key(kind, id);
      if (c->drop(key)) {
        m_state->unsubscribe(key, c.get());
        had = true;
      }
    }
    // Every socket of the account hears of the change, subscribed or not.
    (void)had;
    n += c->send(frame) ? 1U : 0U;
  }
  return n;
}

std::vector<std::string> Gateway::subscribed_ids(const eth::Address& account, std::string_view kind) const {
  std::set<std::string> ids;
  const std::string prefix = std::string(kind) + ":";
  for (const auto& c : m_state->of_account(eth::to_lower_hex(account))) {
    for (const auto& key : c->topics()) {
      if (key.compare(0, prefix.size(), prefix) == 0) ids.insert(key.substr(prefix.size()));
    }
  }
  return {ids.begin(), ids.end()};
}

std::vector<eth::Address> Gateway::subscribers(std::string_view kind, std::string_view id) const {
  std::vector<eth::Address> out;
  if (auto subs = m_state->subscribers(topic_key(kind, id))) {
    for (const auto& c : *subs) {
      if (std::find(out.begin(), out.end(), c->identity().account) == out.end()) out.push_back(c->identity().account);
    }
  }
  return out;
}

std::size_t Gateway::close_session(std::string_view session_id) {
  ConnectionList list;
  {
    std::lock_guard lock(m_state->mutex);
    if (auto it = m_state->by_session.find(std::string(session_id)); it != m_state->by_session.end()) {
      list = it->second;
    }
  }
  for (const auto& c : list) c->close(net::close_code::unauthorized, "session ended");
  return list.size();
}

std::size_t Gateway::close_device(std::string_view device_id) {
  if (device_id.empty()) return 0;
  ConnectionList list;
  {
    std::lock_guard lock(m_state->mutex);
    if (auto it = m_state->by_device.find(std::string(device_id)); it != m_state->by_device.end()) list = it->second;
  }
  for (const auto& c : list) c->close(net::close_code::unauthorized, "device removed");
  return list.size();
}

std::size_t Gateway::close_account(const eth::Address& account, std::uint16_t code, std::string reason) {
  const auto list = m_state->of_account(eth::to_lower_hex(account));
  for (const auto& c : list) c->close(code, reason);
  return list.size();
}

std::shared_ptr<net::WebSocketSession> Gateway::open_session(Identity who, std::string device_id, std::string token,
                                                             Presence presence, bool chosen) {
  return std::make_shared<Connection>(m_state, std::move(who), std::move(device_id), std::move(token),
                                      std::move(presence), chosen);
}

bool Gateway::may_open(const eth::Address& account) const {
  std::lock_guard lock(m_state->mutex);
  auto it = m_state->by_account.find(eth::to_lower_hex(account));
  return it == m_state->by_account.end() || it->second.size() < m_state->settings.max_sockets_per_account;
}

std::size_t Gateway::sockets() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->connections.size();
}

}  // namespace gh::realtime
