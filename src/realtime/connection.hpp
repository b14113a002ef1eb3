#pragma once
// Private to realtime: one /v1/ws socket as the gateway sees it. It parses client frames
// (subscribe, resume, unsubscribe, ack, ping, typing, presence_query), keeps per-topic delivery
// state, and delivers sequenced frames exactly once and in order: a live frame that skips a seq,
// and every resume, first reads the gap from the topic's history.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/json/object.hpp>

#include "net/websocket.hpp"
#include "realtime/gateway.hpp"

namespace gh::realtime {

/// The server side of one gateway socket.
class Connection final : public net::WebSocketSession, public std::enable_shared_from_this<Connection> {
 public:
  /// `presence`: what the account shows, read as the socket was accepted; it takes effect when
  /// this is the account's first socket here or when `chosen` (the upgrade asked for a status).
  Connection(std::shared_ptr<Gateway::State> state, Gateway::Identity who, std::string device_id, std::string token,
             Presence presence = {}, bool chosen = false);

  void on_open(std::shared_ptr<net::WebSocket> socket) override;
  Task<void> on_message(std::string message) override;
  void on_close() override;

  /// A sequenced frame of topic `key` (any thread).
  bool deliver(const std::string& key, std::int64_t seq, const net::SharedFrame& frame);
  /// An unsequenced frame (any thread); false when the socket is closing.
  bool send(const net::SharedFrame& frame);
  /// Forgets the subscription to `key`; true when there was one (any thread).
  bool drop(const std::string& key);
  /// Closes the socket (any thread).
  void close(std::uint16_t code, std::string reason);

  const Gateway::Identity& identity() const noexcept { return m_who; }
  const std::string& account_key() const noexcept { return m_account_key; }
  const std::string& device_id() const noexcept { return m_device_id; }
  /// The session token the socket was opened with (checked again by the gateway's periodic sweep).
  const std::string& token() const noexcept { return m_token; }
  std::uint64_t id() const noexcept { return m_id; }
  void set_id(std::uint64_t id) noexcept { m_id = id; }
  /// The subscribed topic keys (any thread).
  std::vector<std::string> topics() const;

 private:
  struct Subscription {
    std::string kind;
    std::string id;
    const TopicSource* source = nullptr;
    std::int64_t last = 0;      ///< the last seq delivered
    bool catching_up = true;    ///< history is being read; live frames only raise max_seen
    std::int64_t max_seen = 0;  ///< the highest live seq seen while catching up
    std::int64_t last_typing_ms = 0;
  };

  struct Cursor {
    std::int64_t last = 0;
    const TopicSource* source = nullptr;
    std::string id;
  };
  std::optional<Cursor> cursor(const std::string& key) const;
  enum class Delivery { done, gap };
  /// Under the lock: sends the frame when it is next in order, or says what else to do.
  Delivery begin_delivery(const std::string& key, std::int64_t seq, const net::SharedFrame& frame);
  bool apply_page(const std::string& key, std::vector<SequencedFrame>& page, std::size_t page_size);
  bool room_for(const std::string& key) const;
  bool subscribed_to(const std::string& key) const;
  bool typing_allowed(const std::string& key);
  void add_subscription(const std::string& key, Subscription sub);
  bool start_at(const std::string& key, std::optional<std::int64_t> resume_from, std::int64_t head);
  Task<void> subscribe(std::string kind, const TopicSource* source, std::string id,
                       std::optional<std::int64_t> resume_from);
  Task<void> catch_up(std::string key);
  void send_error(std::string_view code, std::string_view message, const boost::json::object* extra = nullptr);
  void send_json(const boost::json::object& frame);
  Task<void> handle(boost::json::object& frame);

  std::shared_ptr<Gateway::State> m_state;
  Gateway::Identity m_who;
  std::string m_account_key;
  std::string m_device_id;
  std::string m_token;
  std::unique_ptr<Presence> m_initial_presence;  ///< read at the upgrade; released as the socket opens
  bool m_chosen = false;                         ///< the upgrade asked for a status (?status=)
  std::uint64_t m_id = 0;
  std::shared_ptr<net::WebSocket> m_socket;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Subscription> m_subs;
};

/// "kind:id", the key of a topic.
std::string topic_key(std::string_view kind, std::string_view id);

}  // namespace gh::realtime
