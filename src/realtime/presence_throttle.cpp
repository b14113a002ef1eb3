#include "realtime/presence_throttle.hpp"

namespace gh::realtime {

PresenceThrottle::Decision PresenceThrottle::change(const std::string& account, Clock::time_point now) {
  auto it = m_slots.find(account);
  if (it == m_slots.end()) {
    if (m_slots.size() >= m_max_tracked) forget_quiet(now);
    if (m_slots.size() >= m_max_tracked) return {};  // too many at once to pace: say it now
    m_slots.emplace(account, Slot{now, false});
    return {};
  }
  Slot& slot = it->second;
  if (slot.pending) return {Decision::Kind::pending, slot.last + m_interval};
  if (now - slot.last >= m_interval) {
    slot.last = now;
    return {};
  }
  slot.pending = true;
  return {Decision::Kind::later, slot.last + m_interval};
}

void PresenceThrottle::fired(const std::string& account, Clock::time_point now) {
  auto it = m_slots.find(account);
  if (it == m_slots.end()) return;
  it->second.pending = false;
  it->second.last = now;
}

void PresenceThrottle::forget_quiet(Clock::time_point now) {
  for (auto it = m_slots.begin(); it != m_slots.end();) {
    if (!it->second.pending && now - it->second.last >= m_interval) {
      it = m_slots.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace gh::realtime
