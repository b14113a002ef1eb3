#pragma once
// Every SQL statement of the e2e context, as functions on an open transaction. No rules here.
// Addresses are stored lowercase; times as Unix milliseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2e/model.hpp"
#include "store/database.hpp"

namespace gh::e2e::sql {

using store::Tx;

/// A stored group.
struct GroupRow {
  std::string id;
  GroupKind kind = GroupKind::group;
  std::string creator;
  std::int64_t epoch = 0;
  std::int64_t last_seq = 0;
  SystemTime created_at;
};
/// A group; `for_update` locks its row (PostgreSQL) until the end of the transaction, which
/// serializes the posts of one group.
std::optional<GroupRow> find_group(Tx& tx, const std::string& id, bool for_update);
/// The DM of a pair of accounts ("a|b", sorted), if any.
std::optional<std::string> find_dm(Tx& tx, const std::string& pair);
/// Inserts a group; false when its id or its DM pair is taken.
bool insert_group(Tx& tx, const GroupRow& group, const std::optional<std::string>& dm_pair);
void set_group_position(Tx& tx, const std::string& id, std::int64_t epoch, std::int64_t last_seq);

std::vector<std::string> members(Tx& tx, const std::string& group_id);
bool is_member(Tx& tx, const std::string& group_id, const std::string& account);
void add_member(Tx& tx, const std::string& group_id, const std::string& account, std::int64_t seq);
void remove_member(Tx& tx, const std::string& group_id, const std::string& account);
/// Groups of an account, oldest first.
std::vector<GroupRow> groups_of(Tx& tx, const std::string& account);

/// A message to store.
struct NewMessage {
  std::string group_id;
  std::int64_t seq = 0;
  std::string sender;
  std::string sender_device;
  std::string client_id;
  std::int64_t epoch = 0;
  mls::ContentType content_type = mls::ContentType::application;
  std::string message;
  std::optional<std::string> hidden_for;
  SystemTime created_at;
};
void insert_message(Tx& tx, const NewMessage& m);
/// The seq of a sender's earlier post with this client id.
std::optional<std::int64_t> seq_of_client_id(Tx& tx, const std::string& group_id, const std::string& sender,
                                             const std::string& client_id);
/// Messages after `after_seq` that `reader` may see, oldest first, at most `limit`, not older
/// than `oldest`.
std::vector<StoredMessage> messages_after(Tx& tx, const std::string& group_id, const std::string& reader,
                                          std::int64_t after_seq, std::size_t limit, SystemTime oldest);

/// The whole log after `after_seq` as `reader` sees it live: rows hidden for the reader come as
/// withheld entries without their ciphertext, so the sequence has no gaps.
std::vector<StoredMessage> log_after(Tx& tx, const std::string& group_id, const std::string& reader,
                                     std::int64_t after_seq, std::size_t limit, SystemTime oldest);

void insert_welcome(Tx& tx, const std::string& id, const std::string& device_id, const std::string& group_id,
                    std::int64_t seq, const std::string& welcome, SystemTime now);
std::vector<QueuedWelcome> welcomes_of(Tx& tx, const std::string& device_id, std::size_t limit, SystemTime oldest);
/// Deletes a device's welcome; false when it has no such welcome.
bool delete_welcome(Tx& tx, const std::string& device_id, const std::string& id);

void set_cursor(Tx& tx, const std::string& group_id, const std::string& device_id, std::int64_t seq);
/// Drops everything queued for a device (welcomes and cursors).
void drop_device(Tx& tx, const std::string& device_id);

/// An account's consent towards a peer.
Consent consent(Tx& tx, const std::string& account, const std::string& peer);
void set_consent(Tx& tx, const std::string& account, const std::string& peer, Consent state, SystemTime now);

/// Deletes messages and welcomes created before `before`, at most `limit` of each; returns how
/// many rows went.
std::int64_t purge(Tx& tx, SystemTime before, std::size_t limit);

}  // namespace gh::e2e::sql
