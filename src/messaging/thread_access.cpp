#include "messaging/thread_access.hpp"

#include <algorithm>
#include <map>

#include "messaging/model.hpp"
#include "messaging/store.hpp"

namespace gh::messaging {

void ThreadDirectory::remember(const std::string& thread_id, const std::string& parent, std::uint64_t generation) {
  std::lock_guard lock(m_mutex);
  if (generation != m_generation) return;
  if (m_parents.size() >= max_cached) m_parents.clear();
  m_parents.emplace(thread_id, parent);
}

void ThreadDirectory::forget(const std::string& thread_id) {
  std::lock_guard lock(m_mutex);
  m_parents.erase(thread_id);
  ++m_generation;
}

Task<Result<std::string>> ThreadDirectory::parent_of(const std::string& thread_id) {
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_parents.find(thread_id); it != m_parents.end()) co_return it->second;
  }
  auto found = co_await state(thread_id);
  if (!found) co_return std::move(found).error();
  co_return *found ? (*found)->channel_id : std::string();
}

Task<Result<std::optional<ThreadState>>> ThreadDirectory::state(const std::string& thread_id) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(m_mutex);
    generation = m_generation;
  }
  auto found = co_await m_pool.run([&]() -> Result<std::optional<ThreadState>> {
    return m_db.read([&](store::Tx& tx) -> Result<std::optional<ThreadState>> {
      auto t = sql::find_thread(tx, thread_id);
      if (!t) return std::optional<ThreadState>();
      return std::optional<ThreadState>(ThreadState{t->channel_id, t->locked, t->slow_mode_seconds});
    });
  });
  if (found && *found) remember(thread_id, (*found)->channel_id, generation);
  co_return found;
}

Task<Result<std::string>> ThreadAccess::deciding(const std::string& channel_id) {
  if (!is_thread_id(channel_id)) co_return channel_id;
  co_return co_await m_threads.parent_of(channel_id);
}

Task<Result<bool>> ThreadAccess::can_read(const eth::Address& account, std::string channel_id) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return false;
  co_return co_await m_inner.can_read(account, std::move(*channel));
}

Task<Result<bool>> ThreadAccess::can_post(const eth::Address& account, std::string channel_id) {
  if (!is_thread_id(channel_id)) co_return co_await m_inner.can_post(account, std::move(channel_id));
  auto rules = co_await thread_rules(account, channel_id, false);
  if (!rules) co_return std::move(rules).error();
  co_return rules->allowed && !rules->locked;
}

Task<Result<PostRules>> ThreadAccess::thread_rules(const eth::Address& account, const std::string& thread_id,
                                                   bool content) {
  auto thread = co_await m_threads.state(thread_id);
  if (!thread) co_return std::move(thread).error();
  if (!*thread) co_return PostRules{};
  const auto parent = (*thread)->channel_id;
  // Two statements: GCC 12 miscompiles co_await inside ?:.
  Result<PostRules> rules = PostRules{};
  if (content) {
    rules = co_await m_inner.post_rules(account, parent);
  } else {
    rules = co_await m_inner.write_rules(account, parent);
  }
  if (!rules) co_return rules;
  rules->parent_channel_id = parent;
  // Its own slow mode over its parent's: the longer holds.
  rules->slow_mode_seconds = std::max(rules->slow_mode_seconds, (*thread)->slow_mode_seconds);
  if (!rules->allowed || !(*thread)->locked) co_return rules;
  auto moderates = co_await m_inner.can_moderate(account, parent);
  if (!moderates) co_return std::move(moderates).error();
  rules->locked = !*moderates;
  co_return rules;
}

Task<Result<PostRules>> ThreadAccess::post_rules(const eth::Address& account, std::string channel_id) {
  if (!is_thread_id(channel_id)) co_return co_await m_inner.post_rules(account, std::move(channel_id));
  co_return co_await thread_rules(account, channel_id, true);
}

Task<Result<PostRules>> ThreadAccess::write_rules(const eth::Address& account, std::string channel_id) {
  if (!is_thread_id(channel_id)) co_return co_await m_inner.write_rules(account, std::move(channel_id));
  co_return co_await thread_rules(account, channel_id, false);
}

Task<Result<void>> ThreadAccess::content_blocked(const eth::Address& account, std::string channel_id,
                                                 ContentBlock block) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return ok();
  if (is_thread_id(channel_id)) block.thread_id = channel_id;
  co_return co_await m_inner.content_blocked(account, std::move(*channel), std::move(block));
}

Task<Result<std::vector<std::string>>> ThreadAccess::moderated_channels(const eth::Address& account,
                                                                        std::string community_id) {
  co_return co_await m_inner.moderated_channels(account, std::move(community_id));
}

Task<Result<std::vector<std::string>>> ThreadAccess::community_channels(const eth::Address& account,
                                                                        std::string community_id) {
  co_return co_await m_inner.community_channels(account, std::move(community_id));
}

Task<Result<bool>> ThreadAccess::can_pin(const eth::Address& account, std::string channel_id) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return false;
  co_return co_await m_inner.can_pin(account, std::move(*channel));
}

Task<Result<bool>> ThreadAccess::can_moderate(const eth::Address& account, std::string channel_id) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return false;
  co_return co_await m_inner.can_moderate(account, std::move(*channel));
}

Task<Result<std::vector<std::string>>> ThreadAccess::mentionable_roles(const eth::Address& account,
                                                                       std::string channel_id,
                                                                       std::vector<std::string> roles) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return std::vector<std::string>();
  co_return co_await m_inner.mentionable_roles(account, std::move(*channel), std::move(roles));
}

Task<Result<std::vector<std::string>>> ThreadAccess::readable_channels(const eth::Address& account) {
  co_return co_await m_inner.readable_channels(account);
}

Task<Result<std::vector<eth::Address>>> ThreadAccess::members_with_role(std::string channel_id, std::string role,
                                                                        std::size_t limit) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return std::vector<eth::Address>();
  co_return co_await m_inner.members_with_role(std::move(*channel), std::move(role), limit);
}

Task<Result<std::vector<eth::Address>>> ThreadAccess::readers(std::string channel_id,
                                                              std::vector<eth::Address> accounts) {
  auto channel = co_await deciding(channel_id);
  if (!channel) co_return std::move(channel).error();
  if (channel->empty()) co_return std::vector<eth::Address>();
  co_return co_await m_inner.readers(std::move(*channel), std::move(accounts));
}

Task<Result<ChannelRoles>> ThreadAccess::roles_in_channels(const eth::Address& account,
                                                           std::vector<std::string> channel_ids) {
  // Threads answer with their parent's roles: the parents are asked once, with the channels.
  std::map<std::string, std::string> asked_as;  // id given -> channel asked
  std::vector<std::string> asked;
  for (const auto& id : channel_ids) {
    auto channel = co_await deciding(id);
    if (!channel) co_return std::move(channel).error();
    if (channel->empty()) continue;
    asked_as[id] = *channel;
    if (std::find(asked.begin(), asked.end(), *channel) == asked.end()) asked.push_back(*channel);
  }
  auto held = co_await m_inner.roles_in_channels(account, std::move(asked));
  if (!held) co_return std::move(held).error();
  ChannelRoles out;
  for (const auto& [id, channel] : asked_as) {
    if (auto it = held->find(channel); it != held->end()) out[id] = it->second;
  }
  co_return out;
}

}  // namespace gh::messaging
