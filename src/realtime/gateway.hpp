#pragma once
// The real-time gateway of this node (API.md "Real time"): the open sockets of /v1/ws, who is
// online, and topic fan-out. A topic is a kind ("channel", "group") and an id; the context that
// owns a kind (messaging for channels, e2e for groups) registers a TopicSource saying who may
// subscribe, what the latest seq is and how to read history, so that the gateway can deliver
// every sequenced frame to every subscribed socket exactly once and in order: a socket that
// resumes, or that sees a gap in live frames, reads the missing ones from history first.
// Other contexts find this service with env.services.find<realtime::Gateway>().
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "realtime/model.hpp"

namespace gh::net {
class WebSocketSession;
}

namespace gh::realtime {

/// One frame of a topic's history, as the socket receives it (a JSON text frame).
struct SequencedFrame {
  std::int64_t seq = 0;
  std::string frame;
};

/// Where a topic stands when a socket subscribes.
struct TopicHead {
  std::int64_t seq = 0;        ///< the latest seq (0 when it has none)
  boost::json::object fields;  ///< added to the `subscribed` frame (e.g. a channel's last change)
};

/// What the owner of a kind of topic tells the gateway. Every function may be called from any
/// thread and concurrently; `history` and `head` must read committed data.
struct TopicSource {
  /// The key naming a topic of this kind in frames ("channel_id") and in resume ("channels").
  std::string id_field;
  std::string resume_field;
  /// May `account` subscribe to topic `id`? false: the subscribe is refused with an error frame.
  std::function<Task<Result<bool>>(eth::Address account, std::string id)> authorize;
  /// Where topic `id` stands: its latest seq, and what the `subscribed` frame adds.
  std::function<Task<Result<TopicHead>>(std::string id)> head;
  /// Up to `limit` frames of topic `id` with seq > `after_seq`, in seq order, as `account` sees them.
  std::function<Task<Result<std::vector<SequencedFrame>>>(eth::Address account, std::string id, std::int64_t after_seq,
                                                          std::size_t limit)>
      history;
  /// The client acknowledged `seq` of topic `id` (a read marker); may be empty.
  std::function<Task<Result<void>>(eth::Address account, std::string id, std::int64_t seq)> ack;
  /// May `account` show itself typing in topic `id` (what posting there takes)? An error is the
  /// error frame the typing frame gets. Empty: every subscriber may.
  std::function<Task<Result<void>>(eth::Address account, std::string id)> may_write;
  /// The topic ids `account` may read, for presence: who sees an account come and go. May be empty.
  std::function<Task<Result<std::vector<std::string>>>(eth::Address account)> readable;
};

/// Limits and timings of the gateway.
struct GatewaySettings {
  std::size_t max_subscriptions_per_socket = 1000;
  /// Open sockets per account on this node: past it the upgrade is refused (429), and a socket
  /// that races past the check is closed with 1008 as it opens.
  std::size_t max_sockets_per_account = 32;
  std::size_t history_page = 200;          ///< frames read per history query while resuming
  std::int64_t typing_interval_ms = 2000;  ///< a socket's typing frames per topic at most this often
  /// An account's presence frames at most this often: a change inside the interval goes out once
  /// at its end, with the status then (an account flapping its connection cannot flood its audience).
  std::int64_t presence_interval_ms = 2000;
  /// A presence announcement whose audience could not be read (the database out of reach) is made
  /// again after this, doubling each time, at most presence_retries times: the last word others
  /// see of an account is its presence then, not the one before the failure.
  std::int64_t presence_retry_ms = 1000;
  int presence_retries = 5;
  std::int64_t reauth_interval_ms = 300'000;  ///< a socket's session is checked again this often
  std::int64_t stall_timeout_ms = 10'000;     ///< a catch-up whose client reads nothing this long: close 4008
  /// A topic with at least fanout_shard_min subscribers is written out by this many strands at
  /// once (one per I/O thread), each taking the sockets whose id falls to it, so that one message
  /// to a large channel does not wait for one thread to write every socket. 1: the publishing
  /// thread writes every socket itself.
  std::size_t fanout_shards = 1;
  std::size_t fanout_shard_min = 128;
};

class Connection;
class PresenceService;

/// The gateway service. Thread-safe.
class Gateway {
 public:
  /// Checks a session token: the account and session id, or 401.
  struct Identity {
    eth::Address account;
    std::string session_id;
  };
  using Authenticate = std::function<Task<Result<Identity>>(std::string token)>;

  /// `presence`: where the presence accounts choose lasts (may be null: then a status chosen on a
  /// socket holds on this node while the account has a socket here).
  Gateway(Executor executor, GatewaySettings settings, Authenticate authenticate, PresenceService* presence = nullptr);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Registers a kind of topic ("channel", "group"). Call at start, before sockets arrive.
  void add_topic_kind(std::string kind, TopicSource source);

  /// True when the account has an open socket on this node.
  bool account_online(const eth::Address& account) const;
  /// True when a socket of that device is open on this node.
  bool device_online(std::string device_id) const;
  /// The status the account shows itself ("online", "idle", "dnd", "invisible") while it has a
  /// socket here; "offline" when it has none.
  std::string status_of(const eth::Address& account) const;
  /// The account changed its presence (stored by the PresenceService): when it has sockets here,
  /// they show it from now on, each gets a `presence` frame with it, and the members who share a
  /// topic with the account see what it lets them see (paced). Nothing when it has no socket here.
  void show_presence(const eth::Address& account, const Presence& presence);
  /// Sends a frame to every socket of the account; returns how many took it.
  std::size_t send_to_account(const eth::Address& account, std::string frame_json);
  /// Sends a frame to every socket of the device; returns how many took it.
  std::size_t send_to_device(std::string device_id, std::string frame_json);

  /// Delivers a sequenced frame of a topic to every subscribed socket, in seq order per socket
  /// (a socket that has not seen seq-1 reads the gap from history first). Call after the frame's
  /// data is committed. Returns how many sockets were subscribed.
  std::size_t publish(std::string_view kind, std::string_view id, std::int64_t seq, std::string frame_json);
  /// Sends an unsequenced frame (typing, edits, reactions) to every subscriber of a topic, except
  /// the sockets of `except` when given. Returns how many took it.
  std::size_t broadcast(std::string_view kind, std::string_view id, std::string frame_json,
                        const eth::Address* except = nullptr);
  /// Ends the account's subscriptions to these topics on every one of its sockets at once, and
  /// sends each of those sockets `frame_json` (a `membership` frame). Returns the sockets told.
  std::size_t unsubscribe(const eth::Address& account, std::string_view kind, const std::vector<std::string>& ids,
                          std::string frame_json);
  /// The ids of the topics of `kind` that the account's sockets are subscribed to.
  std::vector<std::string> subscribed_ids(const eth::Address& account, std::string_view kind) const;
  /// The accounts with a socket subscribed to a topic.
  std::vector<eth::Address> subscribers(std::string_view kind, std::string_view id) const;
  /// Closes every socket of a session (logout, revocation) with close code 4001.
  std::size_t close_session(std::string_view session_id);
  /// Closes every socket of a device (removed from its account) with close code 4001.
  std::size_t close_device(std::string_view device_id);
  /// Closes every socket of the account on this node with `code` (4008: resume, which subscribes
  /// again, each topic authorized anew). Returns how many.
  std::size_t close_account(const eth::Address& account, std::uint16_t code, std::string reason);

  /// The session of a socket being accepted for `who` (optionally naming one of its devices);
  /// `token` is kept to check the session again while the socket stays open.
  /// `presence`: what the account shows, read from the PresenceService as the socket is accepted;
  /// it takes effect when the socket is the account's first here, or when `chosen` (the upgrade
  /// asked for a status), and before anyone is told the account came online.
  std::shared_ptr<net::WebSocketSession> open_session(Identity who, std::string device_id, std::string token,
                                                      Presence presence = {}, bool chosen = false);

  /// Open sockets on this node.
  std::size_t sockets() const;
  /// Whether the account may open one more socket on this node.
  bool may_open(const eth::Address& account) const;

  struct State;

 private:
  friend class Connection;
  std::shared_ptr<State> m_state;
};

}  // namespace gh::realtime
