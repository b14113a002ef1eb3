#pragma once
// The e2e context's use cases: the MLS delivery service (RFC 9750 roles). Groups registered by
// their MLS group id, one totally ordered log of MLSMessages per group (gapless seq, at most one
// commit per epoch), welcomes queued per device, acks, DM consent, retention. Reads and posts are
// made by a device of a member account (X-Device-Id); the server never decrypts anything.
// Other contexts hear of it through its events: e2e.message_posted, e2e.welcome_queued,
// e2e.device_added and e2e.device_removed (per group, when auth's devices change).
#include <functional>
#include <string>
#include <vector>

#include "auth/model.hpp"
#include "bus/bus.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "e2e/model.hpp"
#include "realtime/gateway.hpp"
#include "store/database.hpp"

namespace gh::auth {
class AuthService;
}

namespace gh::e2e {

/// The device a request is made from: the caller's account and one of its devices.
struct Caller {
  auth::Principal principal;
  std::string device_id;
};

/// Delivery-service use cases. Thread-safe; database work runs on the blocking pool.
class E2eService {
 public:
  /// `gateway` (nullable) delivers live frames: group messages to subscribed sockets (topic kind
  /// "group"), welcomes to the welcomed device, membership frames to removed accounts.
  E2eService(store::Database& db, BlockingPool& pool, const Clock& clock, E2eSettings settings, auth::AuthService& auth,
             std::function<void()> events_published, realtime::Gateway* gateway = nullptr);

  const E2eSettings& settings() const noexcept { return m_settings; }

  /// The caller's device, checked to be one of its account's (403 unknown_device otherwise: a
  /// deleted device reads and posts nothing more).
  Task<Result<Caller>> caller(const auth::Principal& who, std::string device_id);

  /// Registers a group with the creator and `members` as member accounts (201). A DM is unique
  /// per pair of accounts: 409 dm_exists naming the existing group; 409 group_exists for a taken id.
  Task<Result<GroupInfo>> create_group(const auth::Principal& who, NewGroup group);
  /// Accepts one MLSMessage into a group's log and returns its seq. A commit must be for the
  /// group's current epoch (409 stale_epoch otherwise) and moves it on; proposals and application
  /// messages must be for the current epoch too. The same client_id returns the first seq.
  Task<Result<std::int64_t>> post(const Caller& caller, std::string group_id, Post post);
  /// The group's messages after `after_seq` that the caller may read, oldest first.
  Task<Result<std::vector<StoredMessage>>> messages(const Caller& caller, std::string group_id, std::int64_t after_seq,
                                                    std::size_t limit);
  /// The caller's groups (DMs with a blocked peer left out).
  Task<Result<std::vector<GroupInfo>>> groups(const auth::Principal& who);
  /// One group of the caller's.
  Task<Result<GroupInfo>> group(const auth::Principal& who, std::string group_id);
  /// Every device of every member account, with its identity key: the leaves the group should
  /// have. Clients add the missing ones and remove the others.
  Task<Result<std::vector<MemberDevice>>> group_devices(const auth::Principal& who, std::string group_id);
  /// Welcomes queued for the calling device, oldest first.
  Task<Result<std::vector<QueuedWelcome>>> welcomes(const Caller& caller);
  /// Removes a processed welcome (404 when the device has no such welcome).
  Task<Result<void>> delete_welcome(const Caller& caller, std::string welcome_id);
  /// Records that the device processed the group up to `seq`.
  Task<Result<void>> ack(const Caller& caller, std::string group_id, std::int64_t seq);
  /// DMs started by others that the caller has neither allowed, denied nor blocked.
  Task<Result<std::vector<GroupInfo>>> dm_requests(const auth::Principal& who);
  /// Sets the caller's consent towards the other account of a DM.
  Task<Result<void>> set_consent(const auth::Principal& who, std::string group_id, Consent state);
  /// Deletes messages and welcomes past the retention; returns how many rows went.
  Task<Result<std::int64_t>> purge();

  /// The bus consumer that follows auth's devices: a device added is announced to its account's
  /// groups (e2e.device_added), a device removed loses its queues and its groups are asked to
  /// remove its leaf (e2e.device_removed).
  bus::Consumer device_consumer();

  /// The "group" topic kind for the realtime gateway: members subscribe, resume from history.
  realtime::TopicSource topic_source();

 private:
  store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  E2eSettings m_settings;
  auth::AuthService& m_auth;
  std::function<void()> m_events_published;
  realtime::Gateway* m_gateway = nullptr;
};

/// The realtime topic kind of groups.
inline constexpr std::string_view group_topic = "group";

/// The `group_message` frame of a stored message.
std::string message_frame(const std::string& group_id, const StoredMessage& m);

}  // namespace gh::e2e
