#pragma once
// Deleting a backlog in short transactions, as retention jobs do: each transaction deletes at
// most `batch` rows, so a large backlog never holds one long transaction and a concurrent writer
// waits for one batch at most.
#include <algorithm>
#include <cstddef>

#include "core/blocking_pool.hpp"
#include "core/task.hpp"
#include "store/database.hpp"

namespace gh::store {

/// Runs `step(tx, batch)` (deletes at most `batch` rows and returns how many) in a transaction of
/// its own on the pool, again and again until one deletes fewer than `batch`. Returns the rows
/// deleted in all. A failing step throws out of here, as transact does; what earlier steps
/// deleted stays deleted.
template <class Step>
Task<std::size_t> delete_in_batches(Database& db, BlockingPool& pool, std::size_t batch, Step step) {
  batch = std::max<std::size_t>(batch, 1);
  std::size_t total = 0;
  for (;;) {
    const auto deleted = co_await pool.run(
        [&] { return db.transact([&](Tx& tx) { return static_cast<std::size_t>(step(tx, batch)); }); });
    total += deleted;
    if (deleted < batch) co_return total;
  }
}

}  // namespace gh::store
