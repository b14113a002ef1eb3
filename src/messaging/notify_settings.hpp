#pragma once
// What messaging asks of the accounts' notification settings, kept by the notifications context:
// - how an account wants mentions through `@&member` and roles to count (Discord's per-server
//   "Suppress @everyone" and "Suppress all role @mentions");
// - who follows every message of a channel (Discord's per-channel "All Messages"; in a forum,
//   every new post).
// messaging depends on this small interface; notify provides it when both run (without it, every
// mention counts and no one follows a channel).
#include <cstddef>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "messaging/model.hpp"

namespace gh::messaging {

/// The notification settings messaging reads.
class NotifySettings {
 public:
  virtual ~NotifySettings() = default;
  /// An account's mention suppression.
  virtual Task<Result<MentionSuppression>> suppression(const eth::Address& account) = 0;
  /// The first `limit` accounts following every message of the channel, in the order they chose
  /// it, then those following every message of its community (`community_id`), each once (whether
  /// they still read it is for the caller to check).
  virtual Task<Result<std::vector<eth::Address>>> channel_followers(std::string channel_id, std::string community_id,
                                                                    std::size_t limit) = 0;
};

}  // namespace gh::messaging
