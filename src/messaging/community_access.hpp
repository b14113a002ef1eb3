#pragma once
// Channel access from the community context (community::CommunityService): members read and post
// as their roles and the channels' gates allow. With --test-hooks, AnyChannelAccess also lets the
// integration tests' grants in.
#include <vector>

#include "community/service.hpp"
#include "messaging/access.hpp"

namespace gh::messaging {

/// ChannelAccess answered by the community context.
class CommunityChannelAccess final : public ChannelAccess {
 public:
  explicit CommunityChannelAccess(community::CommunityService& communities) : m_communities(communities) {}
  Task<Result<bool>> can_read(const eth::Address& account, std::string channel_id) override;
  Task<Result<bool>> can_post(const eth::Address& account, std::string channel_id) override;
  Task<Result<PostRules>> post_rules(const eth::Address& account, std::string channel_id) override;
  Task<Result<PostRules>> write_rules(const eth::Address& account, std::string channel_id) override;
  Task<Result<void>> content_blocked(const eth::Address& account, std::string channel_id, ContentBlock block) override;
  Task<Result<std::vector<std::string>>> moderated_channels(const eth::Address& account,
                                                            std::string community_id) override;
  Task<Result<std::vector<std::string>>> community_channels(const eth::Address& account,
                                                            std::string community_id) override;
  Task<Result<bool>> can_pin(const eth::Address& account, std::string channel_id) override;
  Task<Result<bool>> can_moderate(const eth::Address& account, std::string channel_id) override;
  Task<Result<std::vector<std::string>>> mentionable_roles(const eth::Address& account, std::string channel_id,
                                                           std::vector<std::string> roles) override;
  Task<Result<std::vector<std::string>>> readable_channels(const eth::Address& account) override;
  Task<Result<std::vector<eth::Address>>> members_with_role(std::string channel_id, std::string role,
                                                            std::size_t limit) override;
  Task<Result<std::vector<eth::Address>>> readers(std::string channel_id, std::vector<eth::Address> accounts) override;
  Task<Result<ChannelRoles>> roles_in_channels(const eth::Address& account,
                                               std::vector<std::string> channel_ids) override;

 private:
  community::CommunityService& m_communities;
};

/// Access when any of several sources grants it (when none does, the first error if any).
class AnyChannelAccess final : public ChannelAccess {
 public:
  explicit AnyChannelAccess(std::vector<ChannelAccess*> sources) : m_sources(std::move(sources)) {}
  Task<Result<bool>> can_read(const eth::Address& account, std::string channel_id) override;
  Task<Result<bool>> can_post(const eth::Address& account, std::string channel_id) override;
  /// The first source that allows posting decides the rules.
  Task<Result<PostRules>> post_rules(const eth::Address& account, std::string channel_id) override;
  Task<Result<PostRules>> write_rules(const eth::Address& account, std::string channel_id) override;
  Task<Result<void>> content_blocked(const eth::Address& account, std::string channel_id, ContentBlock block) override;
  /// The first source that knows the community answers.
  Task<Result<std::vector<std::string>>> moderated_channels(const eth::Address& account,
                                                            std::string community_id) override;
  Task<Result<std::vector<std::string>>> community_channels(const eth::Address& account,
                                                            std::string community_id) override;
  Task<Result<bool>> can_pin(const eth::Address& account, std::string channel_id) override;
  Task<Result<bool>> can_moderate(const eth::Address& account, std::string channel_id) override;
  Task<Result<std::vector<std::string>>> mentionable_roles(const eth::Address& account, std::string channel_id,
                                                           std::vector<std::string> roles) override;
  Task<Result<std::vector<std::string>>> readable_channels(const eth::Address& account) override;
  Task<Result<std::vector<eth::Address>>> members_with_role(std::string channel_id, std::string role,
                                                            std::size_t limit) override;
  Task<Result<std::vector<eth::Address>>> readers(std::string channel_id, std::vector<eth::Address> accounts) override;
  Task<Result<ChannelRoles>> roles_in_channels(const eth::Address& account,
                                               std::vector<std::string> channel_ids) override;

 private:
  // The first source that allows the write answers (else the first error, else not allowed).
  Task<Result<PostRules>> first_allowing(const eth::Address& account, std::string channel_id, bool content);
  std::vector<ChannelAccess*> m_sources;
};

}  // namespace gh::messaging
