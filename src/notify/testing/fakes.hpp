#pragma once
// Test support: in-memory stand-ins for the router's collaborators owned by other contexts
// (auth's devices, realtime's sockets, community's members) and a scripted push provider.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "notify/router.hpp"

namespace gh::notify::testing {

class FakeDirectory final : public DeviceDirectory {
 public:
  std::map<std::string, std::vector<PushTarget>> devices_of;
  std::vector<std::string> forgotten;
  int lookups = 0;  ///< calls of devices()
  Task<Result<std::map<std::string, std::vector<PushTarget>>>> devices(
      const std::vector<std::string>& accounts) override {
    ++lookups;
    std::map<std::string, std::vector<PushTarget>> out;
    for (const auto& account : accounts) {
      if (auto it = devices_of.find(account); it != devices_of.end()) out[account] = it->second;
    }
    co_return out;
  }
  Task<void> forget_push_token(const std::string& device_id) override {
    forgotten.push_back(device_id);
    for (auto& [account, list] : devices_of) {
      for (auto& d : list) {
        if (d.device_id == device_id) d.token.clear();
      }
    }
    co_return;
  }
};

class FakeOnline final : public OnlineDelivery {
 public:
  std::set<std::string> online;
  std::set<std::string> gone;  ///< reported online, but the send finds no socket
  std::vector<std::pair<std::string, std::string>> frames;
  bool device_online(const std::string& device_id) override {
    return online.count(device_id) + gone.count(device_id) > 0;
  }
  std::size_t send_to_device(const std::string& device_id, const std::string& frame_json) override {
    if (gone.count(device_id) > 0) return 0;
    frames.emplace_back(device_id, frame_json);
    return 1;
  }
  std::set<std::string> dnd;  ///< accounts showing do not disturb
  Task<bool> do_not_disturb(const std::string& account) override { co_return dnd.count(account) > 0; }
  std::vector<std::pair<std::string, std::string>> account_frames;
  std::size_t send_to_account(const std::string& account, const std::string& frame_json) override {
    account_frames.emplace_back(account, frame_json);
    return 1;
  }
};

class FakeAudience final : public AudienceSource {
 public:
  std::map<std::string, std::vector<std::string>> members_of;  ///< sorted
  int pages = 0;
  Task<Result<std::vector<std::string>>> members(const std::string& community_id, const std::string& after,
                                                 std::size_t limit) override {
    ++pages;
    std::vector<std::string> out;
    const auto& all = members_of[community_id];
    auto it = std::upper_bound(all.begin(), all.end(), after);
    for (; it != all.end() && out.size() < limit; ++it) out.push_back(*it);
    co_return out;
  }
};

class FakeProvider final : public PushProvider {
 public:
  explicit FakeProvider(std::string name) : m_name(std::move(name)) {}
  std::map<std::string, PushResult> script;  ///< by device id; delivered otherwise
  std::vector<std::pair<std::string, PushMessage>> sent;
  std::string_view name() const override { return m_name; }
  Task<PushResult> send(const PushTarget& target, const PushMessage& message) override {
    sent.emplace_back(target.device_id, message);
    auto it = script.find(target.device_id);
    if (it != script.end()) co_return it->second;
    PushResult ok;
    ok.outcome = PushOutcome::delivered;
    co_return ok;
  }

 private:
  std::string m_name;
};

}  // namespace gh::notify::testing
