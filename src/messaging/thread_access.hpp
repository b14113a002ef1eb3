#pragma once
// Threads take their access from their parent channel: ThreadAccess stands before the community's
// ChannelAccess and asks it about the parent wherever a thread's id is given, so that every use
// case of messaging (history, posts, reactions, pins, reports, typing, resume) works in a thread
// without knowing threads. A locked thread refuses the writes of those who do not moderate it; a
// private thread is read and written by its members and by those who moderate its parent alone.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/blocking_pool.hpp"
#include "messaging/access.hpp"
#include "store/database.hpp"

namespace gh::messaging {

/// What never changes in a thread: its parent, and whether it is private.
struct ThreadPlace {
  std::string channel_id;  ///< its parent; empty: no such thread
  bool is_private = false;
};

/// What access needs of a thread.
struct ThreadState {
  std::string channel_id;  ///< its parent
  bool locked = false;
  std::int64_t slow_mode_seconds = 0;  ///< its own
  bool is_private = false;
  bool invitable = true;
};

/// A thread's rules from its parent's: the parent's, with the thread's own slow mode when longer.
/// All of them for a public thread that is not locked; ThreadAccess narrows them for locked and
/// private threads.
PostRules rules_in_thread(PostRules parent_rules, const ThreadState& thread);

/// Reads threads for ThreadAccess: places are cached (they never change), bounded; a deleted
/// thread's entry goes at once on the node that deleted it.
class ThreadDirectory {
 public:
  ThreadDirectory(store::Database& db, BlockingPool& pool) : m_db(db), m_pool(pool) {}
  /// The thread's parent channel and privacy; an empty parent when there is no such thread.
  Task<Result<ThreadPlace>> place_of(const std::string& thread_id);
  /// The thread's parent, lock and settings as they are now; unset when there is no such thread.
  Task<Result<std::optional<ThreadState>>> state(const std::string& thread_id);
  /// The thread's first `limit` members, in the order they joined.
  Task<Result<std::vector<eth::Address>>> members(const std::string& thread_id, std::size_t limit);
  /// Which of these accounts joined the thread.
  Task<Result<std::vector<eth::Address>>> members_among(const std::string& thread_id,
                                                        const std::vector<eth::Address>& accounts);
  /// The thread was deleted: its parent is looked up again, and found no more.
  void forget(const std::string& thread_id);

  /// Parents kept at most (then the cache starts over).
  static constexpr std::size_t max_cached = 100'000;

 private:
  // Keeps the parent read when the forgets were at `generation`: a lookup that overlapped a
  // deletion does not put the deleted thread back.
  void remember(const std::string& thread_id, const ThreadPlace& place, std::uint64_t generation);
  store::Database& m_db;
  BlockingPool& m_pool;
  std::mutex m_mutex;
  std::unordered_map<std::string, ThreadPlace> m_places;
  std::uint64_t m_generation = 0;  ///< how many forgets so far
};

/// ChannelAccess that answers for a thread as its parent channel (see above); channels pass through.
class ThreadAccess final : public ChannelAccess {
 public:
  ThreadAccess(ChannelAccess& inner, ThreadDirectory& threads) : m_inner(inner), m_threads(threads) {}
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
  void forget_thread(const std::string& thread_id) override { m_threads.forget(thread_id); }

 private:
  // The channel whose access decides: the parent of a thread (empty for an unknown thread), or the
  // channel itself.
  Task<Result<std::string>> deciding(const std::string& channel_id);
  // The rules of the parent, locked for those who do not moderate a locked thread, and refused to
  // those who neither joined nor moderate a private one.
  Task<Result<PostRules>> thread_rules(const eth::Address& account, const std::string& thread_id, bool content);
  // Of these readers of a private thread's parent, those who read the thread: its members, and
  // those who moderate the parent.
  Task<Result<std::vector<eth::Address>>> private_readers(const std::string& thread_id, const std::string& parent,
                                                          std::vector<eth::Address> accounts);
  ChannelAccess& m_inner;
  ThreadDirectory& m_threads;
};

}  // namespace gh::messaging
