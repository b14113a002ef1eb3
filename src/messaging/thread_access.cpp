#include "messaging/thread_access.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "messaging/model.hpp"
#include "messaging/store.hpp"

namespace gh::messaging {

void ThreadDirectory::remember(const std::string& thread_id, const ThreadPlace& place, std::uint64_t generation) {
  std::lock_guard lock(m_mutex);
  if (generation != m_generation) return;
  if (m_places.size() >= max_cached) m_places.clear();
  m_places.emplace(thread_id, place);
}

void ThreadDirectory::forget(const std::string& thread_id) {
  std::lock_guard lock(m_mutex);
  m_places.erase(thread_id);
  ++m_generation;
}

Task<Result<ThreadPlace>> ThreadDirectory::place_of(const std::string& thread_id) {
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_places.find(thread_id); it != m_places.end()) co_return it->second;
  }
  auto found = co_await state(thread_id);
  if (!found) co_return std::move(found).error();
  if (!*found) co_return ThreadPlace{};
  co_return ThreadPlace{(*found)->channel_id, (*found)->is_private};
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
      return std::optional<ThreadState>(
          ThreadState{t->channel_id, t->locked, t->slow_mode_seconds, t->is_private, t->invitable});
    });
  });
  if (found && *found) remember(thread_id, ThreadPlace{(*found)->channel_id, (*found)->is_private}, generation);
  co_return found;
}

Task<Result<std::vector<eth::Address>>> ThreadDirectory::members_among(const std::string& thread_id,
                                                                       const std::vector<eth::Address>& accounts) {
  std::vector<std::string> hex;
  hex.reserve(accounts.size());
  for (const auto& a : accounts) hex.push_back(eth::to_lower_hex(a));
  auto found = co_await m_pool.run([&]() -> Result<std::set<std::string>> {
    return m_db.read(
        [&](store::Tx& tx) -> Result<std::set<std::string>> { return sql::members_among(tx, thread_id, hex); });
  });
  if (!found) co_return std::move(found).error();
  std::vector<eth::Address> out;
  for (const auto& a : accounts) {
    if (found->contains(eth::to_lower_hex(a))) out.push_back(a);
  }
  co_return out;
}

Task<Result<std::vector<eth::Address>>> ThreadDirectory::members(const std::string& thread_id, std::size_t limit) {
  auto found = co_await m_pool.run([&]() -> Result<std::vector<ThreadMember>> {
    return m_db.read([&](store::Tx& tx) -> Result<std::vector<ThreadMember>> {
      return sql::thread_members(tx, thread_id, std::nullopt, limit);
    });
  });
  if (!found) co_return std::move(found).error();
  std::vector<eth::Address> out;
  out.reserve(found->size());
  for (const auto& m : *found) out.push_back(m.account);
  co_return out;
}

Task<Result<std::string>> ThreadAccess::deciding(const std::string& channel_id) {
  if (!is_thread_id(channel_id)) co_return channel_id;
  auto place = co_await m_threads.place_of(channel_id);
  if (!place) co_return std::move(place).error();
  co_return std::move(place->channel_id);
}

Task<Result<std::vector<eth::Address>>> ThreadAccess::private_readers(const std::string& thread_id,
                                                                      const std::string& parent,
                                                                      std::vector<eth::Address> accounts) {
  auto members = co_await m_threads.members_among(thread_id, accounts);
  if (!members) co_return std::move(members).error();
  std::vector<eth::Address> out;
  for (const auto& a : accounts) {
    if (std::find(members->begin(), members->end(), a) != members->end()) {
      out.push_back(a);
      continue;
    }
    auto moderates = co_await m_inner.can_moderate(a, parent);
    if (!moderates) co_return std::move(moderates).error();
    if (*moderates) out.push_back(a);
  }
  co_return out;
}

PostRules rules_in_thread(PostRules parent_rules, const ThreadState& thread) {
  parent_rules.parent_channel_id = thread.channel_id;
  // Its own slow mode over its parent's: the longer holds.
  parent_rules.slow_mode_seconds = std::max(parent_rules.slow_mode_seconds, thread.slow_mode_seconds);
  parent_rules.private_thread = thread.is_private;
  return parent_rules;
}

Task<Result<bool>> ThreadAccess::can_read(const eth::Address& account, std::string channel_id) {
  if (!is_thread_id(channel_id)) co_return co_await m_inner.can_read(account, std::move(channel_id));
  auto place = co_await m_threads.place_of(channel_id);
  if (!place) co_return std::move(place).error();
  if (place->channel_id.empty()) co_return false;
  auto reads = co_await m_inner.can_read(account, place->channel_id);
  if (!reads || !*reads || !place->is_private) co_return reads;
  const std::vector<eth::Address> one(1, account);
  auto readers = co_await private_readers(channel_id, place->channel_id, one);
  if (!readers) co_return std::move(readers).error();
  co_return !readers->empty();
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
  rules = rules_in_thread(std::move(*rules), **thread);
  if (!rules->allowed || (!(*thread)->locked && !(*thread)->is_private)) co_return rules;
  auto moderates = co_await m_inner.can_moderate(account, parent);
  if (!moderates) co_return std::move(moderates).error();
  rules->locked = (*thread)->locked && !*moderates;
  if ((*thread)->is_private) {
    rules->invites = *moderates || (*thread)->invitable;
    if (!*moderates) {
      const std::vector<eth::Address> one(1, account);
      auto member = co_await m_threads.members_among(thread_id, one);
      if (!member) co_return std::move(member).error();
      if (member->empty()) rules->allowed = false;
    }
  }
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
  if (!is_thread_id(channel_id))
    co_return co_await m_inner.members_with_role(std::move(channel_id), std::move(role), limit);
  auto place = co_await m_threads.place_of(channel_id);
  if (!place) co_return std::move(place).error();
  if (place->channel_id.empty()) co_return std::vector<eth::Address>();
  if (!place->is_private) co_return co_await m_inner.members_with_role(place->channel_id, std::move(role), limit);
  // A private thread's: among its members alone (those who moderate the channel and did not join
  // are not reached through a role). Everyone: its members.
  if (role == everyone_role) co_return co_await m_threads.members(channel_id, limit);
  auto holders = co_await m_inner.members_with_role(place->channel_id, std::move(role), max_mention_candidates);
  if (!holders) co_return holders;
  auto members = co_await m_threads.members_among(channel_id, *holders);
  if (members && members->size() > limit) members->resize(limit);
  co_return members;
}

Task<Result<std::vector<eth::Address>>> ThreadAccess::readers(std::string channel_id,
                                                              std::vector<eth::Address> accounts) {
  if (!is_thread_id(channel_id)) co_return co_await m_inner.readers(std::move(channel_id), std::move(accounts));
  auto place = co_await m_threads.place_of(channel_id);
  if (!place) co_return std::move(place).error();
  if (place->channel_id.empty()) co_return std::vector<eth::Address>();
  auto readers = co_await m_inner.readers(place->channel_id, std::move(accounts));
  if (!readers || !place->is_private) co_return readers;
  co_return co_await private_readers(channel_id, place->channel_id, std::move(*readers));
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
