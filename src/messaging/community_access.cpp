#include "messaging/community_access.hpp"

#include <algorithm>
#include <optional>
#include <set>

namespace gh::messaging {
namespace {

using AccessCheck = Task<Result<bool>> (ChannelAccess::*)(const eth::Address& account, std::string channel_id);

// True when one source allows; a source's error is the answer only when no other source allows.
Task<Result<bool>> any_allows(const std::vector<ChannelAccess*>& sources, AccessCheck check,
                              const eth::Address& account, const std::string& channel_id) {
  std::optional<Error> failed;
  for (auto* source : sources) {
    auto r = co_await (source->*check)(account, channel_id);
    if (!r) {
      if (!failed) failed = r.error();
      continue;
    }
    if (*r) co_return true;
  }
  if (failed) co_return *failed;
  co_return false;
}

// The community's AutoMod rules for one account and channel, as messaging asks for them.
class AutomodScreen final : public ContentScreen {
 public:
  explicit AutomodScreen(std::vector<std::shared_ptr<const community::CompiledAutomodRule>> rules)
      : m_rules(std::move(rules)) {}

  std::optional<ContentBlock> screen(std::string_view text, std::size_t mentions) const override {
    const auto seen = community::automod_text(text);
    for (const auto& r : m_rules) {
      if (auto hit = r->matcher.match(seen, mentions)) {
        return ContentBlock{r->id,           r->spec.name,          community::to_string(r->spec.trigger.type),
                            std::move(*hit), r->spec.block_message, r->spec.timeout_seconds};
      }
    }
    return std::nullopt;
  }

 private:
  std::vector<std::shared_ptr<const community::CompiledAutomodRule>> m_rules;
};

}  // namespace

Task<Result<bool>> CommunityChannelAccess::can_read(const eth::Address& account, std::string channel_id) {
  co_return co_await m_communities.can_read_channel(account, std::move(channel_id));
}

Task<Result<bool>> CommunityChannelAccess::can_post(const eth::Address& account, std::string channel_id) {
  co_return co_await m_communities.can_post_channel(account, std::move(channel_id));
}

namespace {

// What the channel adds to the rules: its name, and what a forum adds.
void channel_rules(const community::ChannelPostRules& found, PostRules& rules) {
  rules.channel_name = found.channel_name;
  rules.forum = found.forum;
  rules.category = found.category;
  rules.require_tag = found.require_tag;
  rules.default_auto_archive_minutes = found.default_auto_archive_minutes;
  for (const auto& tag : found.tags) rules.tags[tag.id] = tag.moderated;
}

}  // namespace

Task<Result<PostRules>> CommunityChannelAccess::write_rules(const eth::Address& account, std::string channel_id) {
  auto found = co_await m_communities.post_rules(account, std::move(channel_id), false);
  if (!found) co_return found.error();
  PostRules rules{found->can_post, found->slow_mode_seconds, found->exempt, found->timed_out_until_ms, nullptr};
  rules.send = found->can_send;
  rules.community_id = std::move(found->community_id);
  channel_rules(*found, rules);
  co_return rules;
}

Task<Result<PostRules>> CommunityChannelAccess::post_rules(const eth::Address& account, std::string channel_id) {
  auto found = co_await m_communities.post_rules(account, std::move(channel_id), true);
  if (!found) co_return found.error();
  PostRules rules{found->can_post, found->slow_mode_seconds, found->exempt, found->timed_out_until_ms, nullptr};
  rules.send = found->can_send;
  rules.community_id = std::move(found->community_id);
  channel_rules(*found, rules);
  if (!found->automod.empty()) rules.screen = std::make_shared<AutomodScreen>(std::move(found->automod));
  co_return rules;
}

Task<Result<void>> CommunityChannelAccess::content_blocked(const eth::Address& account, std::string channel_id,
                                                           ContentBlock block) {
  // A named local: GCC 12 mishandles a braced temporary passed to a coroutine.
  community::AutomodHit hit{std::move(block.rule_id), std::move(block.trigger), std::move(block.matched),
                            std::move(block.content), std::move(block.thread_id)};
  co_return co_await m_communities.automod_blocked(account, std::move(channel_id), std::move(hit));
}

Task<Result<std::vector<std::string>>> CommunityChannelAccess::moderated_channels(const eth::Address& account,
                                                                                  std::string community_id) {
  co_return co_await m_communities.moderated_channels(account, std::move(community_id));
}

Task<Result<std::vector<std::string>>> CommunityChannelAccess::community_channels(const eth::Address& account,
                                                                                  std::string community_id) {
  co_return co_await m_communities.readable_channels_in(account, std::move(community_id));
}

Task<Result<bool>> CommunityChannelAccess::can_pin(const eth::Address& account, std::string channel_id) {
  co_return co_await m_communities.can_pin_channel(account, std::move(channel_id));
}

Task<Result<bool>> CommunityChannelAccess::can_moderate(const eth::Address& account, std::string channel_id) {
  co_return co_await m_communities.can_moderate_channel(account, std::move(channel_id));
}

Task<Result<std::vector<std::string>>> CommunityChannelAccess::mentionable_roles(const eth::Address& account,
                                                                                 std::string channel_id,
                                                                                 std::vector<std::string> roles) {
  co_return co_await m_communities.mentionable_roles(account, std::move(channel_id), std::move(roles));
}

Task<Result<std::vector<std::string>>> CommunityChannelAccess::readable_channels(const eth::Address& account) {
  co_return co_await m_communities.readable_channels(account);
}

Task<Result<std::vector<eth::Address>>> CommunityChannelAccess::members_with_role(std::string channel_id,
                                                                                  std::string role, std::size_t limit) {
  auto community = co_await m_communities.community_of_channel(std::move(channel_id));
  if (!community) co_return community.error();
  co_return co_await m_communities.members_with_role(std::move(*community), std::move(role), limit);
}

Task<Result<std::vector<eth::Address>>> CommunityChannelAccess::readers(std::string channel_id,
                                                                        std::vector<eth::Address> accounts) {
  co_return co_await m_communities.channel_readers(std::move(channel_id), std::move(accounts));
}

Task<Result<ChannelRoles>> CommunityChannelAccess::roles_in_channels(const eth::Address& account,
                                                                     std::vector<std::string> channel_ids) {
  auto held = co_await m_communities.roles_in_channels(account, std::move(channel_ids));
  if (!held) co_return std::move(held).error();
  ChannelRoles out;
  for (auto& [channel, set] : *held) out[channel] = HeldRoles{std::move(set.community_id), std::move(set.roles)};
  co_return out;
}

Task<Result<bool>> AnyChannelAccess::can_read(const eth::Address& account, std::string channel_id) {
  co_return co_await any_allows(m_sources, &ChannelAccess::can_read, account, channel_id);
}

Task<Result<bool>> AnyChannelAccess::can_post(const eth::Address& account, std::string channel_id) {
  co_return co_await any_allows(m_sources, &ChannelAccess::can_post, account, channel_id);
}

Task<Result<PostRules>> AnyChannelAccess::post_rules(const eth::Address& account, std::string channel_id) {
  co_return co_await first_allowing(account, std::move(channel_id), true);
}

Task<Result<PostRules>> AnyChannelAccess::write_rules(const eth::Address& account, std::string channel_id) {
  co_return co_await first_allowing(account, std::move(channel_id), false);
}

Task<Result<PostRules>> AnyChannelAccess::first_allowing(const eth::Address& account, std::string channel_id,
                                                         bool content) {
  std::optional<Error> failed;
  for (auto* source : m_sources) {
    // Two statements: GCC 12 miscompiles co_await inside ?:.
    Result<PostRules> r = PostRules{};
    if (content) {
      r = co_await source->post_rules(account, channel_id);
    } else {
      r = co_await source->write_rules(account, channel_id);
    }
    if (!r) {
      if (!failed) failed = r.error();
      continue;
    }
    if (r->allowed) co_return *r;
  }
  if (failed) co_return *failed;
  co_return PostRules{};
}

Task<Result<void>> AnyChannelAccess::content_blocked(const eth::Address& account, std::string channel_id,
                                                     ContentBlock block) {
  for (auto* source : m_sources) {
    if (auto r = co_await source->content_blocked(account, channel_id, block); !r) co_return r;
  }
  co_return ok();
}

namespace {

// The answer of the first source that knows the community; else the first error that is not a
// 404 (a source that knows it and refuses), else the 404.
template <class Ask>
Task<Result<std::vector<std::string>>> first_knowing(const std::vector<ChannelAccess*>& sources, Ask ask) {
  std::optional<Error> failed;
  for (auto* source : sources) {
    auto r = co_await ask(*source);
    if (r) co_return r;
    if (!failed || failed->kind == ErrorKind::not_found) failed = r.error();
  }
  if (failed) co_return *failed;
  co_return std::vector<std::string>();
}

}  // namespace

Task<Result<std::vector<std::string>>> AnyChannelAccess::moderated_channels(const eth::Address& account,
                                                                            std::string community_id) {
  co_return co_await first_knowing(
      m_sources, [&](ChannelAccess& source) { return source.moderated_channels(account, community_id); });
}

Task<Result<std::vector<std::string>>> AnyChannelAccess::community_channels(const eth::Address& account,
                                                                            std::string community_id) {
  co_return co_await first_knowing(
      m_sources, [&](ChannelAccess& source) { return source.community_channels(account, community_id); });
}

Task<Result<bool>> AnyChannelAccess::can_pin(const eth::Address& account, std::string channel_id) {
  co_return co_await any_allows(m_sources, &ChannelAccess::can_pin, account, channel_id);
}

Task<Result<bool>> AnyChannelAccess::can_moderate(const eth::Address& account, std::string channel_id) {
  co_return co_await any_allows(m_sources, &ChannelAccess::can_moderate, account, channel_id);
}

Task<Result<std::vector<std::string>>> AnyChannelAccess::mentionable_roles(const eth::Address& account,
                                                                           std::string channel_id,
                                                                           std::vector<std::string> roles) {
  // A role counts when a source that lets the account read the channel lets its mention count.
  std::set<std::string> allowed;
  for (auto* source : m_sources) {
    auto r = co_await source->mentionable_roles(account, channel_id, roles);
    if (r) allowed.insert(r->begin(), r->end());
  }
  std::erase_if(roles, [&](const std::string& role) { return !allowed.contains(role); });
  co_return roles;
}

Task<Result<std::vector<std::string>>> AnyChannelAccess::readable_channels(const eth::Address& account) {
  std::vector<std::string> out;
  for (auto* source : m_sources) {
    auto r = co_await source->readable_channels(account);
    if (!r) continue;
    for (auto& id : *r) {
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(std::move(id));
    }
  }
  co_return out;
}

Task<Result<std::vector<eth::Address>>> AnyChannelAccess::members_with_role(std::string channel_id, std::string role,
                                                                            std::size_t limit) {
  std::vector<eth::Address> out;
  std::set<eth::Address> seen;
  for (auto* source : m_sources) {
    auto r = co_await source->members_with_role(channel_id, role, limit);
    if (!r) continue;  // a channel one source does not know
    for (const auto& a : *r) {
      if (out.size() < limit && seen.insert(a).second) out.push_back(a);
    }
  }
  co_return out;
}

Task<Result<std::vector<eth::Address>>> AnyChannelAccess::readers(std::string channel_id,
                                                                  std::vector<eth::Address> accounts) {
  std::set<eth::Address> allowed;
  for (auto* source : m_sources) {
    auto r = co_await source->readers(channel_id, accounts);
    if (!r) continue;
    allowed.insert(r->begin(), r->end());
  }
  std::vector<eth::Address> out;
  for (const auto& a : accounts) {
    if (allowed.contains(a)) out.push_back(a);
  }
  co_return out;
}

Task<Result<ChannelRoles>> AnyChannelAccess::roles_in_channels(const eth::Address& account,
                                                               std::vector<std::string> channel_ids) {
  ChannelRoles out;
  for (auto* source : m_sources) {
    auto r = co_await source->roles_in_channels(account, channel_ids);
    if (!r) continue;
    for (auto& [channel, held] : *r) {
      auto& into = out[channel];
      if (into.community_id.empty()) into.community_id = std::move(held.community_id);
      for (auto& role : held.roles) {
        if (std::find(into.roles.begin(), into.roles.end(), role) == into.roles.end())
          into.roles.push_back(std::move(role));
      }
    }
  }
  co_return out;
}

}  // namespace gh::messaging
