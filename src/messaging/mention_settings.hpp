#pragma once
// How an account wants mentions through `@&member` and roles to count: its notification settings
// (Discord's per-server "Suppress @everyone" and "Suppress all role @mentions"), asked of the
// notifications context. messaging depends on this small interface; notify provides it when both
// run (without it, every mention counts).
#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "messaging/model.hpp"

namespace gh::messaging {

/// An account's mention suppression.
class MentionSettings {
 public:
  virtual ~MentionSettings() = default;
  virtual Task<Result<MentionSuppression>> suppression(const eth::Address& account) = 0;
};

}  // namespace gh::messaging
