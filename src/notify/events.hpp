#pragma once
// What the router makes of bus events: `notify.requested` and the events that imply a
// notification (mentions, replies, membership changes, E2E messages, rewards, withdrawals)
// become one normalized request, expanded later in batches. Tolerant of missing fields: an event
// without an audience yields nothing. Pure.
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

/// The request an event implies, or nullopt.
std::optional<Request> request_from_event(std::string_view topic, std::string_view event_id, std::string_view payload);

/// A request as stored in a job row, and back.
std::string serialize_request(const Request& request);
std::optional<Request> parse_request(std::string_view text);

}  // namespace gh::notify
