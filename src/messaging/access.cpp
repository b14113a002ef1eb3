#include "messaging/access.hpp"

namespace gh::messaging {

void GrantedChannelAccess::grant(const eth::Address& account, const std::string& channel_id, bool read, bool post) {
  std::lock_guard lock(m_mutex);
  if (!read && !post) {
    m_grants.erase({account, channel_id});
    return;
  }
  m_grants[{account, channel_id}] = Grant{read || post, post};
}

void GrantedChannelAccess::set_role(const eth::Address& account, const std::string& channel_id,
                                    const std::string& role) {
  std::lock_guard lock(m_mutex);
  m_roles[{channel_id, role}].insert(account);
}

Task<Result<bool>> GrantedChannelAccess::can_read(const eth::Address& account, std::string channel_id) {
  std::lock_guard lock(m_mutex);
  auto it = m_grants.find({account, channel_id});
  co_return it != m_grants.end() && it->second.read;
}

Task<Result<bool>> GrantedChannelAccess::can_post(const eth::Address& account, std::string channel_id) {
  std::lock_guard lock(m_mutex);
  auto it = m_grants.find({account, channel_id});
  co_return it != m_grants.end() && it->second.post;
}

Task<Result<std::vector<std::string>>> GrantedChannelAccess::readable_channels(const eth::Address& account) {
  std::vector<std::string> out;
  std::lock_guard lock(m_mutex);
  for (const auto& [key, grant] : m_grants) {
    if (key.first == account && grant.read) out.push_back(key.second);
  }
  co_return out;
}

Task<Result<std::vector<eth::Address>>> GrantedChannelAccess::members_with_role(std::string channel_id,
                                                                                std::string role) {
  std::vector<eth::Address> out;
  std::lock_guard lock(m_mutex);
  if (auto it = m_roles.find({channel_id, role}); it != m_roles.end()) out.assign(it->second.begin(), it->second.end());
  co_return out;
}

}  // namespace gh::messaging
