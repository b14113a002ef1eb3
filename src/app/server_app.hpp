#pragma once
// The composition root of `gatehouse serve` and `gatehouse migrate`: the only place that knows
// every module. It opens the database, migrates, wires the contexts' routes and consumers into
// the roles this process runs, serves, and drains on SIGTERM/SIGINT.
#include <vector>

#include "app/contexts.hpp"
#include "app/settings.hpp"
#include "store/database.hpp"

namespace gh::app {

/// `gatehouse serve`: runs until SIGTERM/SIGINT, then drains. Returns the process exit code.
int run_server(const Settings& settings);

/// `gatehouse apikey create`: prints a new bot API key once; returns the exit code.
int run_apikey_create(const Settings& settings, const std::string& name, const std::vector<std::string>& scopes);

/// `gatehouse apikey list`: one line per key on stdout; returns the exit code.
int run_apikey_list(const Settings& settings);

/// `gatehouse indexer status`: the figures of GET /v1/indexer/status, as a table on stdout.
int run_indexer_status(const Settings& settings);
/// `gatehouse indexer track`: stores a contract to index from `from_block`; the running indexer
/// picks it up on its next round and backfills it alone.
int run_indexer_track(const Settings& settings, std::uint64_t chain_id, const std::string& pipeline,
                      const std::string& address, std::uint64_t from_block);
/// `gatehouse indexer reindex`: reverts a chain's projections (one pipeline's, or all) above
/// `from - 1`; the indexer replays from there.
int run_indexer_reindex(const Settings& settings, std::uint64_t chain_id, const std::string& pipeline,
                        std::uint64_t from);

/// `gatehouse apikey revoke ID`: revokes a key (refused from the next request on); exit code 2
/// when there is no such key or it is already revoked.
int run_apikey_revoke(const Settings& settings, const std::string& id);

/// `gatehouse migrate`: applies migrations and returns the exit code.
int run_migrate(const Settings& settings);

}  // namespace gh::app
