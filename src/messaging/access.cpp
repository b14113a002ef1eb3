#include "messaging/access.hpp"

#include <algorithm>

#include "messaging/model.hpp"

namespace gh::messaging {

Task<Result<PostRules>> ChannelAccess::write_rules(const eth::Address& account, std::string channel_id) {
  co_return co_await post_rules(account, std::move(channel_id));
}

Task<Result<PostRules>> ChannelAccess::post_rules(const eth::Address& account, std::string channel_id) {
  auto allowed = co_await can_post(account, std::move(channel_id));
  if (!allowed) co_return allowed.error();
  PostRules rules;
  rules.allowed = *allowed;
  co_return rules;
}

Task<Result<void>> ChannelAccess::content_blocked(const eth::Address&, std::string, ContentBlock) {
  co_return ok();
}

Task<Result<bool>> ChannelAccess::can_pin(const eth::Address& account, std::string channel_id) {
  co_return co_await can_moderate(account, std::move(channel_id));
}

Task<Result<std::vector<std::string>>> ChannelAccess::moderated_channels(const eth::Address&, std::string) {
  co_return not_found("no such community");
}

Task<Result<std::vector<std::string>>> ChannelAccess::community_channels(const eth::Address&, std::string) {
  co_return not_found("no such community");
}

void GrantedChannelAccess::grant(const eth::Address& account, const std::string& channel_id, bool read, bool post,
                                 bool moderate) {
  std::lock_guard lock(m_mutex);
  if (!read && !post) {
    m_grants.erase({account, channel_id});
    return;
  }
  m_grants[{account, channel_id}] = Grant{read || post, post, moderate};
}

void GrantedChannelAccess::set_role(const eth::Address& account, const std::string& channel_id,
                                    const std::string& role) {
  std::lock_guard lock(m_mutex);
  m_roles[{channel_id, role}].insert(account);
}

// The coroutines below only call these: no lock lives in a coroutine frame (docs/coroutines.md).
GrantedChannelAccess::Grant GrantedChannelAccess::find(const eth::Address& account, const std::string& channel_id) {
  std::lock_guard lock(m_mutex);
  auto it = m_grants.find({account, channel_id});
  return it == m_grants.end() ? Grant{} : it->second;
}

std::vector<std::string> GrantedChannelAccess::channels_of(const eth::Address& account) {
  std::vector<std::string> out;
  std::lock_guard lock(m_mutex);
  for (const auto& [key, grant] : m_grants) {
    if (key.first == account && grant.read) out.push_back(key.second);
  }
  return out;
}

std::vector<eth::Address> GrantedChannelAccess::holders(const std::string& channel_id, const std::string& role) {
  std::vector<eth::Address> out;
  std::lock_guard lock(m_mutex);
  if (auto it = m_roles.find({channel_id, role}); it != m_roles.end()) out.assign(it->second.begin(), it->second.end());
  return out;
}

ChannelRoles GrantedChannelAccess::held(const eth::Address& account, const std::vector<std::string>& channel_ids) {
  ChannelRoles out;
  std::lock_guard lock(m_mutex);
  for (const auto& [key, accounts] : m_roles) {
    if (!accounts.contains(account)) continue;
    if (std::find(channel_ids.begin(), channel_ids.end(), key.first) == channel_ids.end()) continue;
    out[key.first].roles.push_back(key.second);
  }
  return out;
}

Task<Result<bool>> GrantedChannelAccess::can_read(const eth::Address& account, std::string channel_id) {
  co_return find(account, channel_id).read;
}

Task<Result<bool>> GrantedChannelAccess::can_post(const eth::Address& account, std::string channel_id) {
  co_return find(account, channel_id).post;
}

Task<Result<bool>> GrantedChannelAccess::can_moderate(const eth::Address& account, std::string channel_id) {
  const auto grant = find(account, channel_id);
  co_return grant.read&& grant.moderate;
}

Task<Result<std::vector<std::string>>> GrantedChannelAccess::mentionable_roles(const eth::Address& account,
                                                                               std::string channel_id,
                                                                               std::vector<std::string> roles) {
  // Moderators mention everyone; every other role here is open to mentions.
  const auto grant = find(account, channel_id);
  if (!grant.read) co_return std::vector<std::string>();
  if (!grant.moderate) std::erase(roles, std::string(everyone_role));
  co_return roles;
}

Task<Result<std::vector<std::string>>> GrantedChannelAccess::readable_channels(const eth::Address& account) {
  co_return channels_of(account);
}

Task<Result<std::vector<eth::Address>>> GrantedChannelAccess::members_with_role(std::string channel_id,
                                                                                std::string role, std::size_t limit) {
  auto out = holders(channel_id, role);
  if (out.size() > limit) out.resize(limit);
  co_return out;
}

Task<Result<std::vector<eth::Address>>> GrantedChannelAccess::readers(std::string channel_id,
                                                                      std::vector<eth::Address> accounts) {
  std::vector<eth::Address> out;
  for (const auto& a : accounts) {
    if (find(a, channel_id).read) out.push_back(a);
  }
  co_return out;
}

Task<Result<ChannelRoles>> GrantedChannelAccess::roles_in_channels(const eth::Address& account,
                                                                   std::vector<std::string> channel_ids) {
  co_return held(account, channel_ids);
}

}  // namespace gh::messaging
