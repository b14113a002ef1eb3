#pragma once
// Who may read and post in a channel, asked of the community context. messaging depends on this
// small interface, not on community's tables; the module adapts community::CommunityService to it.
// With --test-hooks and no community context, GrantedChannelAccess stands in (grants set by the
// integration tests through /v1/_test/channel-access).
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"

namespace gh::messaging {

/// The roles an account holds in a channel's community.
struct HeldRoles {
  std::string community_id{};  ///< empty: the channel belongs to no community
  std::vector<std::string> roles{};
};

/// The roles held, by channel id.
using ChannelRoles = std::map<std::string, HeldRoles>;

/// A community rule (AutoMod) that refused a message's text.
struct ContentBlock {
  std::string rule_id;
  std::string rule_name;
  std::string trigger;               ///< "keyword", "mention_spam" or "links"
  std::string matched;               ///< the keyword, the link's host or the mention count
  std::string message;               ///< the rule's text for the author (may be empty)
  std::int64_t timeout_seconds = 0;  ///< the rule also times the author out this long
  std::string content{};             ///< the text refused, as screened (for the rule's alert channel)
  std::string thread_id{};           ///< the thread it was sent in (its channel is the parent), if any
};

/// The content rules that apply to one account in one channel.
class ContentScreen {
 public:
  virtual ~ContentScreen() = default;
  /// The first rule `text` (with `mentions` distinct account and role mentions) triggers; none
  /// when the text passes.
  virtual std::optional<ContentBlock> screen(std::string_view text, std::size_t mentions) const = 0;
};

/// What posting in a channel takes, for one account.
struct PostRules {
  bool allowed = false;
  std::int64_t slow_mode_seconds = 0;  ///< at most one post per this many seconds (0: off)
  bool exempt = false;                 ///< slow mode does not apply (moderators)
  /// The account is timed out in the channel's community until then (unix ms): it reads but does
  /// not post, edit, react or pin. 0: not timed out.
  std::int64_t timed_out_until_ms = 0;
  /// The community's content rules for this account and channel; null: none apply.
  std::shared_ptr<const ContentScreen> screen;
  /// May post messages (and show typing): false where the channel keeps posting to roles the
  /// account lacks (an announcements channel); it still reacts and votes when `allowed`.
  bool send = true;
  /// The channel's community (for notification settings); empty: none.
  std::string community_id{};
  /// The channel's name (in a thread: its parent's), for notifications; empty when unknown.
  std::string channel_name{};
  /// A locked thread the account does not moderate: it reads, and writes nothing there.
  bool locked = false;
  /// In a thread: its parent channel (whose notification mutes hold for the thread); empty in a
  /// channel.
  std::string parent_channel_id{};
  /// A private thread: those not yet its members read it only once added.
  bool private_thread = false;
  /// In a private thread: the account may add others (it moderates, or the thread is invitable).
  bool invites = true;
  /// A forum channel (or, with parent_channel_id, a thread of one): messages go in its posts only.
  bool forum = false;
  /// A category: it holds channels, and takes no message and no thread.
  bool category = false;
  /// A forum's tags: whether each is moderated (applied and removed by moderators alone), by id.
  std::map<std::string, bool> tags{};
  /// A forum's posts carry at least one tag.
  bool require_tag = false;
  /// The auto-archive time of a thread started in the channel without one.
  std::int64_t default_auto_archive_minutes = 1440;
};

/// Channel access as the community context decides it.
class ChannelAccess {
 public:
  virtual ~ChannelAccess() = default;
  /// May the account read the channel (history, live frames)? false also for an unknown channel.
  virtual Task<Result<bool>> can_read(const eth::Address& account, std::string channel_id) = 0;
  /// May the account post in the channel?
  virtual Task<Result<bool>> can_post(const eth::Address& account, std::string channel_id) = 0;
  /// Whether the account may post, and the channel's slow mode for it (by default: can_post, no
  /// slow mode).
  virtual Task<Result<PostRules>> post_rules(const eth::Address& account, std::string channel_id);
  /// post_rules without the content rules (no `screen`): for writes with no text to screen
  /// (typing, reactions, pins, votes). By default: post_rules.
  virtual Task<Result<PostRules>> write_rules(const eth::Address& account, std::string channel_id);
  /// A message of the account was refused by a content rule: the community records it (and applies
  /// the rule's timeout). By default nothing is recorded.
  virtual Task<Result<void>> content_blocked(const eth::Address& account, std::string channel_id, ContentBlock block);
  /// The channels of a community whose messages the account moderates (for its report queue); 403
  /// when it moderates none there. By default: 404, there are no communities.
  virtual Task<Result<std::vector<std::string>>> moderated_channels(const eth::Address& account,
                                                                    std::string community_id);
  /// The channels of a community the account may read (for a community-wide search); 403 when it
  /// is not a member. By default: 404, there are no communities.
  virtual Task<Result<std::vector<std::string>>> community_channels(const eth::Address& account,
                                                                    std::string community_id);
  /// May the account pin messages in the channel (community pin_messages or manage_messages)? By
  /// default: can_moderate.
  virtual Task<Result<bool>> can_pin(const eth::Address& account, std::string channel_id);
  /// May the account delete other members' messages in the channel (community manage_messages)?
  virtual Task<Result<bool>> can_moderate(const eth::Address& account, std::string channel_id) = 0;
  /// Of the roles a message of the account in the channel mentions, those whose mention notifies:
  /// `@&member` (every member) and roles closed to mentions only from holders of the community's
  /// mention_everyone. Empty for a channel the account cannot read.
  virtual Task<Result<std::vector<std::string>>> mentionable_roles(const eth::Address& account, std::string channel_id,
                                                                   std::vector<std::string> roles) = 0;
  /// Every channel the account may read.
  virtual Task<Result<std::vector<std::string>>> readable_channels(const eth::Address& account) = 0;
  /// The members of the channel's community that hold `role` (for `@&role` mentions), at most
  /// `limit`.
  virtual Task<Result<std::vector<eth::Address>>> members_with_role(std::string channel_id, std::string role,
                                                                    std::size_t limit) = 0;
  /// Those of `accounts` that may read the channel, in the order given (one check for all).
  virtual Task<Result<std::vector<eth::Address>>> readers(std::string channel_id,
                                                          std::vector<eth::Address> accounts) = 0;
  /// The roles the account holds in each channel's community (for counting `@&role` mentions), by
  /// channel id; a channel it belongs to no community of is left out.
  virtual Task<Result<ChannelRoles>> roles_in_channels(const eth::Address& account,
                                                       std::vector<std::string> channel_ids) = 0;
  /// A thread was deleted: what is cached of it here goes (by default nothing is cached).
  virtual void forget_thread(const std::string& /*thread_id*/) {}
};

/// Access from explicit grants held in memory: for tests and for running without communities.
class GrantedChannelAccess final : public ChannelAccess {
 public:
  /// Grants (or with read and post false, revokes) access to a channel; `moderate`: may delete
  /// other members' messages.
  void grant(const eth::Address& account, const std::string& channel_id, bool read, bool post, bool moderate = false);
  /// Gives the account a role in the channel's community.
  void set_role(const eth::Address& account, const std::string& channel_id, const std::string& role);

  Task<Result<bool>> can_read(const eth::Address& account, std::string channel_id) override;
  Task<Result<bool>> can_post(const eth::Address& account, std::string channel_id) override;
  Task<Result<bool>> can_moderate(const eth::Address& account, std::string channel_id) override;
  /// Moderators (granted `moderate`) may.
  Task<Result<std::vector<std::string>>> mentionable_roles(const eth::Address& account, std::string channel_id,
                                                           std::vector<std::string> roles) override;
  Task<Result<std::vector<std::string>>> readable_channels(const eth::Address& account) override;
  Task<Result<std::vector<eth::Address>>> members_with_role(std::string channel_id, std::string role,
                                                            std::size_t limit) override;
  Task<Result<std::vector<eth::Address>>> readers(std::string channel_id, std::vector<eth::Address> accounts) override;
  Task<Result<ChannelRoles>> roles_in_channels(const eth::Address& account,
                                               std::vector<std::string> channel_ids) override;

 private:
  struct Grant {
    bool read = false;
    bool post = false;
    bool moderate = false;
  };
  Grant find(const eth::Address& account, const std::string& channel_id);
  std::vector<std::string> channels_of(const eth::Address& account);
  std::vector<eth::Address> holders(const std::string& channel_id, const std::string& role);
  ChannelRoles held(const eth::Address& account, const std::vector<std::string>& channel_ids);
  std::mutex m_mutex;
  std::map<std::pair<eth::Address, std::string>, Grant> m_grants;
  std::map<std::pair<std::string, std::string>, std::set<eth::Address>> m_roles;  // (channel, role)
};

}  // namespace gh::messaging
