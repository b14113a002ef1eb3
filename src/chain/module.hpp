#pragma once
// chain as a context module: its migrations, its service, one poller per configured chain (run
// only by processes with the indexer role), and its routes. It provides ChainService to the
// modules after it.
#include <cstdint>
#include <map>
#include <string>

#include "chain/poller.hpp"
#include "context/module.hpp"

namespace gh::chain {

/// Everything chain takes from the process's settings.
struct ChainModuleSettings {
  /// The chains to index, by id (a chain without a JSON-RPC client is skipped with a warning).
  std::map<std::uint64_t, ChainIndexSettings> chains;
  /// True on processes running the indexer role: the pollers run there only.
  bool run_indexer = true;
  /// Alchemy webhook signing key (empty: webhook off).
  std::string alchemy_signing_key;
};

/// The chain context's module description.
context::ContextModule make_module(ChainModuleSettings settings);

}  // namespace gh::chain
