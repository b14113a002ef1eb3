#pragma once
#include <chrono>
// messaging as a context module: channel messages over HTTP, channel topics on the realtime
// gateway, and the consumer that applies community membership changes to open sockets.
#include "context/module.hpp"
#include "net/rate_limit.hpp"

namespace gh::messaging {

/// Everything messaging takes from the process's settings.
struct MessagingModuleSettings {
  net::RateLimit send_per_account{5.0, 20.0, 100'000};
  /// Seqs one channel search request looks at most.
  std::size_t search_window = 10'000;
  /// Channels and threads one community search request looks into at most.
  std::size_t search_channels = 50;
  net::RateLimit search_per_account{2.0, 10.0, 100'000};
  /// POST /v1/channels/{id}/typing per account and channel: one every 2 s, as a socket's typing.
  net::RateLimit typing_per_channel{0.5, 1.0, 100'000};
  /// Serve /v1/_test/channel-access (integration tests without a community context).
  bool test_hooks = false;
  /// True on processes running the worker role: the loop that posts poll results runs there.
  bool run_poll_results = true;
  /// How long that loop waits, with no poll ending sooner, before it looks again: shorter than the
  /// shortest poll, so a poll created on any node is seen well before it ends.
  std::chrono::milliseconds poll_results_idle_poll{60'000};
};

/// The messaging context's module description.
context::ContextModule make_module(MessagingModuleSettings settings);

}  // namespace gh::messaging
