#pragma once
// Plain types and rules of the e2e context (the MLS delivery service): limits, group kinds,
// consent states, group ids, and what the server reads of a posted MLSMessage. Pure: no I/O.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "eth/address.hpp"
#include "mls/codec.hpp"

namespace gh::e2e {

/// Limits and lifetimes of the delivery service, every one explicit.
struct E2eSettings {
  std::size_t max_message_bytes = std::size_t{64} * 1024;   ///< one MLSMessage (decoded), 413 past it
  std::size_t max_welcome_bytes = std::size_t{256} * 1024;  ///< one Welcome (it carries the ratchet tree)
  std::size_t max_welcomes_per_post = 200;
  std::size_t max_group_members = 1000;  ///< accounts per group
  std::size_t max_member_changes = 200;  ///< add_members + remove_members of one commit
  std::size_t max_page = 100;            ///< messages or welcomes per read
  std::size_t max_client_id_chars = 64;
  std::chrono::hours retention{24 * 90};  ///< messages and welcomes older than this are purged
};

/// What a group is.
enum class GroupKind { dm, group };
const char* to_string(GroupKind kind) noexcept;
std::optional<GroupKind> parse_group_kind(std::string_view text);

/// An account's consent towards a DM peer.
enum class Consent { unknown, allowed, denied, blocked };
const char* to_string(Consent state) noexcept;
/// allowed | denied | blocked ("unknown" is not something one sets).
std::optional<Consent> parse_consent(std::string_view text);

/// An MLS group id from its base64 text (standard or url-safe, padded or not): the canonical
/// id (unpadded base64url) and its bytes. 400 invalid_group_id when empty, too long or not base64.
struct GroupId {
  std::string id;
  mls::Bytes bytes;
};
Result<GroupId> parse_group_id(std::string_view text, std::size_t max_bytes = 256);
/// Standard base64 to bytes, at most `max_bytes` (413 `too_large_code` past it, 400 otherwise).
Result<mls::Bytes> decode_base64_field(std::string_view text, std::string_view field, std::size_t max_bytes,
                                       std::string_view too_large_code);
/// Bytes to standard padded base64.
std::string encode_base64(const mls::Bytes& bytes);

/// POST /v1/groups, validated.
struct NewGroup {
  GroupId group_id;
  GroupKind kind = GroupKind::group;
  std::vector<eth::Address> members;  ///< other accounts than the creator, deduplicated
};
Result<NewGroup> parse_new_group(const boost::json::object& body, const eth::Address& creator,
                                 const E2eSettings& settings);

/// A welcome for one device, as posted with a commit.
struct WelcomeFor {
  std::string device_id;
  std::string welcome;  ///< base64, as received
};

/// POST /v1/groups/{id}/messages, validated: the message decoded and its header checked against
/// the group (its id; a PublicMessage or PrivateMessage; application data only when private;
/// member changes and welcomes only with a commit; welcomes are Welcomes).
struct Post {
  std::string message;  ///< base64, as received
  std::string client_id;
  mls::MessageHeader header;
  std::vector<eth::Address> add_members;
  std::vector<eth::Address> remove_members;
  std::vector<WelcomeFor> welcomes;
};
Result<Post> parse_post(const boost::json::object& body, const GroupId& group, const E2eSettings& settings);

/// A stored message as a member reads it.
struct StoredMessage {
  std::int64_t seq = 0;
  eth::Address sender;
  std::string sender_device;
  std::int64_t epoch = 0;
  mls::ContentType content_type = mls::ContentType::application;
  std::string message;  ///< empty when withheld
  SystemTime created_at;
  bool withheld = false;  ///< a denied peer's message, in the live log of the recipient who denied it
};

/// A queued welcome.
struct QueuedWelcome {
  std::string id;
  std::string group_id;
  std::int64_t seq = 0;  ///< the commit that made it: read the group's messages after it
  std::string welcome;
  SystemTime created_at;
};

/// A group as one of its members sees it.
struct GroupInfo {
  std::string id;
  GroupKind kind = GroupKind::group;
  eth::Address creator;
  std::vector<eth::Address> members;
  std::int64_t epoch = 0;
  std::int64_t last_seq = 0;
  Consent consent = Consent::unknown;  ///< DMs: the caller's consent towards the peer
  SystemTime created_at;
};

/// A device the group should hold a leaf for.
struct MemberDevice {
  eth::Address account;
  std::string device_id;
  std::string identity_key;
};

}  // namespace gh::e2e
