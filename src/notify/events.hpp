#pragma once
// What the router makes of bus events: `notify.requested` and the events that imply a
// notification (mentions, replies, membership changes, E2E messages, rewards, withdrawals)
// become one normalized request, expanded later in batches; the events that take a source back
// (a deleted or edited message) become an amendment of the notifications already made about it;
// those that say an account read a channel mark its notifications about that channel read.
// Tolerant of missing fields: an event without an audience yields nothing. Pure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "notify/model.hpp"

namespace gh::notify {

/// A normalized notification request: the draft and its audience.
struct Request {
  Draft draft;
  std::vector<std::string> accounts;  ///< lowercase hex addresses
  std::string community;              ///< every member of this community (expanded in batches)
  std::vector<std::string> exclude;   ///< lowercase hex addresses left out (the author)
};

/// The topics the router consumes.
std::vector<std::string> consumed_topics();

/// The event `{"account"}` published with notifications marked read in the center: the reads wait
/// in the database for a router to tell the account's sockets, and the routers of every node wake
/// on it, wherever they were marked.
inline constexpr std::string_view reads_marked_topic = "notify.reads_marked";

/// The request an event implies, or nullopt.
std::optional<Request> request_from_event(std::string_view topic, std::string_view event_id, std::string_view payload);

/// What an event changes in notifications already made about a subject (Draft::subject): a
/// deleted message withdraws them (from the center, the delivery queue and open sockets); an
/// edited one refreshes their preview, so that text the author took out is not shown on, and
/// withdraws the mentions of accounts it no longer names.
struct Amendment {
  enum class Action { withdraw, refresh };
  Action action = Action::withdraw;
  std::string subject;
  std::string body;  ///< the new preview (refresh)
  /// Withdraw only these accounts' mentions (lowercase hex; an edit that no longer names them);
  /// empty: every notification about the subject, which is gone for good.
  std::vector<std::string> accounts;
};

/// The amendment an event implies, or nullopt.
std::optional<Amendment> amendment_from_event(std::string_view topic, std::string_view payload);

/// How far an account has read a channel (a thread is a channel here): its read marker moved
/// forward (`messaging.read`; posting moves it too). Its unread notifications about messages up to
/// `seq` become read.
struct ReadThrough {
  std::string account;  ///< lowercase hex
  std::string channel_id;
  std::int64_t seq = 0;
};

/// The read an event implies, or nullopt.
std::optional<ReadThrough> read_from_event(std::string_view topic, std::string_view payload);

/// The subject of the notifications about a channel message.
std::string message_subject(std::string_view message_id);

/// A request as stored in a job row, and back.
std::string serialize_request(const Request& request);
std::optional<Request> parse_request(std::string_view text);

}  // namespace gh::notify
