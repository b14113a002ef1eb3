#pragma once
// Private to realtime: the gateway's shared state, reached by the gateway and its connections.
#include <map>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "realtime/connection.hpp"
#include "realtime/gateway.hpp"
#include "realtime/presence_throttle.hpp"

namespace gh::realtime {

using ConnectionList = std::vector<std::shared_ptr<Connection>>;

/// `{"type": "presence", "account", "status", "custom_status"}`.
boost::json::object presence_frame(const eth::Address& account, const Presence& presence);

struct Gateway::State : std::enable_shared_from_this<Gateway::State> {
  Executor executor;
  GatewaySettings settings;
  // The fan-out's strands (settings.fanout_shards of them, or none): a socket is always written
  // by the same one, so that its frames keep their order.
  std::vector<boost::asio::strand<Executor>> shards;
  Authenticate authenticate;
  std::map<std::string, TopicSource, std::less<>> kinds;  // written at start, then only read

  mutable std::mutex mutex;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::unordered_map<std::string, ConnectionList> by_account;  // lower-case hex address
  std::unordered_map<std::string, ConnectionList> by_session;
  std::unordered_map<std::string, ConnectionList> by_device;
  // The timer of the periodic session check (one for the node, not one per socket); the check's
  // coroutine owns it, so that it never outlives the executor's services.
  std::weak_ptr<boost::asio::steady_timer> check_timer;
  // Paces presence announcements per account (its own lock: taken on every first and last socket).
  mutable std::mutex presence_mutex;
  PresenceThrottle presence{std::chrono::milliseconds(2000)};
  // What the accounts with a socket here show (their status and custom status), by account; an
  // account without an entry shows online. Guarded by presence_mutex; forgotten with the account's
  // last socket on this node (the PresenceService keeps it).
  std::unordered_map<std::string, Presence> presences;
  PresenceService* presence_service = nullptr;  // may be null: presence then lasts only on this node
  const Clock* clock = nullptr;                 // for custom statuses' expiry
  // One timer per account here whose custom status expires: when it does, the account's sockets
  // and the members who see it are told. The waiting coroutine owns the timer (so that it never
  // outlives the executor's services); this only cancels it. Guarded by presence_mutex.
  std::unordered_map<std::string, std::weak_ptr<boost::asio::steady_timer>> expiry_timers;
  // Subscribers by topic key, copied on write so that fan-out iterates without the lock.
  std::unordered_map<std::string, std::shared_ptr<const ConnectionList>> topics;

  /// Registers an open connection; true when it is the account's first (it came online); nothing
  /// when the account already holds its most sockets (the connection is not registered).
  std::optional<bool> add(const std::shared_ptr<Connection>& connection);
  /// Forgets a closed connection; true when it was the account's last (it went offline).
  bool remove(const std::shared_ptr<Connection>& connection, const std::vector<std::string>& topics_held);
  void subscribe(const std::string& key, const std::shared_ptr<Connection>& connection);
  void unsubscribe(const std::string& key, const Connection* connection);
  std::shared_ptr<const ConnectionList> subscribers(const std::string& key) const;
  ConnectionList of_account(const std::string& account_key) const;
  bool online(const std::string& account_key) const;
  /// One (session id, token) per session with an open socket, for the periodic session check.
  std::vector<std::pair<std::string, std::string>> session_tokens() const;
  /// The open connections of a session.
  ConnectionList of_session(const std::string& session_id) const;
  /// Tells the members who share a topic with `account` that it came online or went offline.
  /// `attempt`: how many announcements of it failed to read their audience before this one.
  void announce_presence(Gateway::Identity who, std::string account_key, int attempt = 0);
  /// A deferred presence announcement of the account goes out now.
  void presence_fired(const std::string& account_key);
  /// Sets what the account shows on this node.
  void set_presence(const std::string& account_key, Presence shown);
  /// Forgets it (the account's last socket here closed).
  void forget_presence(const std::string& account_key);
  /// The account's custom status `custom` reached its expiry: unless it changed since, it goes,
  /// and the account's sockets and the members who see it are told.
  void custom_status_expired(const std::string& account_key, const CustomStatus& custom);
  /// Cancels every expiry timer (the gateway is going away).
  void cancel_expiry_timers();
  /// What the account chose (online without a custom status unless it chose otherwise), with an
  /// expired custom status gone.
  Presence own_presence(const std::string& account_key) const;
  /// What others see of the account now: status "offline" and no custom status without a socket
  /// or while invisible, else its status ("online", "idle", "dnd") and custom status.
  Presence visible_presence(const std::string& account_key) const;
  /// Applies a presence the account chose on its sockets here, tells them, and announces it.
  void show(const Gateway::Identity& who, const std::string& account_key, const Presence& shown);
  const TopicSource* source(std::string_view kind) const {
    auto it = kinds.find(kind);
    return it == kinds.end() ? nullptr : &it->second;
  }
};

}  // namespace gh::realtime
