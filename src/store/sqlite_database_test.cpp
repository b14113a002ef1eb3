// The SQLite backend's WAL checkpoints (WalCheckpointer in sqlite_database.cpp): a background
// connection checkpoints the WAL and the writer's commits do not, the writer steps in only when
// the WAL reaches its hard limit, and nothing is lost across checkpoints, close and reopen.
//
// Who checkpointed is told by the database file itself: in WAL mode only a checkpoint writes it.
// A VFS over the default one counts those writes by thread. This test's thread runs every
// transaction, so the writer's commits and its WAL hook run on it: a write there is a checkpoint
// in the commit path (SQLite's auto-checkpoint, or the writer past the hard limit), a write on
// any other thread is the background checkpointer's. The same VFS can refuse the WAL's
// checkpoint lock to the other threads: a background checkpointer that never gets its turn.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "store/database.hpp"
#include "store/sqlite_database.hpp"

namespace gh::store {
namespace {

using namespace std::chrono_literals;

// What the probe VFS sees, across the threads of SQLite's connections.
std::atomic<std::thread::id> g_probe_test_thread;
std::atomic<int> g_probe_db_writes_on_test_thread{0};
std::atomic<int> g_probe_db_writes_elsewhere{0};
std::atomic<bool> g_probe_refuse_checkpoint_lock{false};
std::atomic<int> g_probe_refused_checkpoints{0};
sqlite3_vfs* g_probe_default_vfs = nullptr;
sqlite3_vfs g_probe_vfs{};

bool probe_on_test_thread() {
  return std::this_thread::get_id() == g_probe_test_thread.load();
}

// A file of the probe VFS: the default VFS's own file follows it in the same allocation
// (szOsFile covers both), and every method forwards to it.
struct ProbeFile {
  sqlite3_file base;  ///< first: SQLite sees a ProbeFile as a sqlite3_file
  bool database;      ///< a main database file (not a WAL, journal or temporary file)
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};
static_assert(sizeof(ProbeFile) % alignof(std::max_align_t) == 0, "the default VFS's file must stay aligned");

ProbeFile* probe_file(sqlite3_file* f) {
  return reinterpret_cast<ProbeFile*>(f);
}
sqlite3_file* real_file(sqlite3_file* f) {
  return probe_file(f)->real();
}

// The WAL's checkpointer lock is slot 1 of the wal-index locks (WAL_CKPT_LOCK; "WAL-mode File
// Format" on sqlite.org): a checkpoint takes it exclusively first, and gives up with SQLITE_BUSY
// when another connection holds it.
constexpr int probe_checkpoint_lock_slot = 1;

sqlite3_io_methods make_probe_methods() {
  sqlite3_io_methods m{};
  m.iVersion = 3;
  m.xClose = [](sqlite3_file* f) { return real_file(f)->pMethods->xClose(real_file(f)); };
  m.xRead = [](sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
    return real_file(f)->pMethods->xRead(real_file(f), data, amount, offset);
  };
  m.xWrite = [](sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
    if (probe_file(f)->database)
      ++(probe_on_test_thread() ? g_probe_db_writes_on_test_thread : g_probe_db_writes_elsewhere);
    return real_file(f)->pMethods->xWrite(real_file(f), data, amount, offset);
  };
  m.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
    return real_file(f)->pMethods->xTruncate(real_file(f), size);
  };
  m.xSync = [](sqlite3_file* f, int flags) { return real_file(f)->pMethods->xSync(real_file(f), flags); };
  m.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) {
    return real_file(f)->pMethods->xFileSize(real_file(f), size);
  };
  m.xLock = [](sqlite3_file* f, int lock) { return real_file(f)->pMethods->xLock(real_file(f), lock); };
  m.xUnlock = [](sqlite3_file* f, int lock) { return real_file(f)->pMethods->xUnlock(real_file(f), lock); };
  m.xCheckReservedLock = [](sqlite3_file* f, int* out) {
    return real_file(f)->pMethods->xCheckReservedLock(real_file(f), out);
  };
  m.xFileControl = [](sqlite3_file* f, int op, void* arg) {
    return real_file(f)->pMethods->xFileControl(real_file(f), op, arg);
  };
  m.xSectorSize = [](sqlite3_file* f) { return real_file(f)->pMethods->xSectorSize(real_file(f)); };
  m.xDeviceCharacteristics = [](sqlite3_file* f) {
    return real_file(f)->pMethods->xDeviceCharacteristics(real_file(f));
  };
  m.xShmMap = [](sqlite3_file* f, int region, int size, int extend, void volatile** out) {
    return real_file(f)->pMethods->xShmMap(real_file(f), region, size, extend, out);
  };
  m.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
    if (g_probe_refuse_checkpoint_lock.load() && offset == probe_checkpoint_lock_slot && n == 1 &&
        flags == (SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE) && !probe_on_test_thread()) {
      ++g_probe_refused_checkpoints;
      return SQLITE_BUSY;
    }
    return real_file(f)->pMethods->xShmLock(real_file(f), offset, n, flags);
  };
  m.xShmBarrier = [](sqlite3_file* f) { real_file(f)->pMethods->xShmBarrier(real_file(f)); };
  m.xShmUnmap = [](sqlite3_file* f, int delete_flag) {
    return real_file(f)->pMethods->xShmUnmap(real_file(f), delete_flag);
  };
  m.xFetch = [](sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
    return real_file(f)->pMethods->xFetch(real_file(f), offset, amount, out);
  };
  m.xUnfetch = [](sqlite3_file* f, sqlite3_int64 offset, void* page) {
    return real_file(f)->pMethods->xUnfetch(real_file(f), offset, page);
  };
  return m;
}
const sqlite3_io_methods g_probe_methods = make_probe_methods();

int probe_open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  ProbeFile* probe = probe_file(file);
  probe->database = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  const int rc = g_probe_default_vfs->xOpen(g_probe_default_vfs, name, probe->real(), flags, out_flags);
  // SQLite reads pMethods after a failed open too: null unless there is a file to close.
  probe->base.pMethods = probe->real()->pMethods != nullptr ? &g_probe_methods : nullptr;
  return rc;
}

class SqliteWalCheckpoints : public ::testing::Test {
 protected:
  // The smallest page size, so that thresholds counted in pages take little data (1,000 pages
  // are 500 KiB). One row per page: a row's 400 bytes fit in a 512-byte leaf, two do not.
  static constexpr int page_size = 512;
  static constexpr std::size_t row_bytes = 400;

  void SetUp() override {
    g_probe_default_vfs = sqlite3_vfs_find(nullptr);
    ASSERT_NE(g_probe_default_vfs, nullptr);
    ASSERT_GE(g_probe_default_vfs->iVersion, 3);
    g_probe_vfs = *g_probe_default_vfs;
    g_probe_vfs.pNext = nullptr;
    g_probe_vfs.zName = "gh_wal_probe";
    g_probe_vfs.szOsFile = static_cast<int>(sizeof(ProbeFile)) + g_probe_default_vfs->szOsFile;
    g_probe_vfs.xOpen = &probe_open;
    ASSERT_EQ(sqlite3_vfs_register(&g_probe_vfs, 1), SQLITE_OK);  // the default, so Database::open uses it
    m_registered = true;
    g_probe_test_thread = std::this_thread::get_id();
    g_probe_refuse_checkpoint_lock = false;

    static std::atomic<int> counter{0};
    m_dir = std::filesystem::temp_directory_path() /
            fmt::format("gh-sqlite-wal-test-{}-{}", getpid(), counter.fetch_add(1));
    std::filesystem::remove_all(m_dir);
    std::filesystem::create_directories(m_dir);
    m_path = (m_dir / "gatehouse.db").string();
    create_database();
    m_db = Database::open(url());
    reset_counts();
  }

  void TearDown() override {
    m_db.reset();
    if (m_registered) {
      sqlite3_vfs_unregister(&g_probe_vfs);
      sqlite3_vfs_register(g_probe_default_vfs, 1);
    }
    if (!m_dir.empty()) std::filesystem::remove_all(m_dir);
  }

  std::string url() const { return "sqlite:" + m_path; }

  // The page size is fixed when the file is created, before Database::open sees it.
  void create_database() const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(m_path.c_str(), &db), SQLITE_OK);
    const std::string sql = fmt::format(
        "PRAGMA page_size={}; PRAGMA journal_mode=WAL; CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)",
        page_size);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  static void reset_counts() {
    g_probe_db_writes_on_test_thread = 0;
    g_probe_db_writes_elsewhere = 0;
    g_probe_refused_checkpoints = 0;
  }

  static Blob row_for(std::int64_t id) {
    Blob bytes(row_bytes);
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<std::uint8_t>((id * 131) + static_cast<std::int64_t>(i));
    return bytes;
  }

  // Rows [first, first + count), `per_tx` to a transaction.
  void write_rows(std::int64_t first, std::int64_t count, std::int64_t per_tx) {
    for (std::int64_t start = first; start < first + count; start += per_tx) {
      m_db->transact([&](Tx& tx) {
        for (std::int64_t id = start; id < std::min(start + per_tx, first + count); ++id) {
          tx.exec("INSERT INTO blobs (id, b) VALUES ($1, $2)", {id, row_for(id)});
        }
      });
    }
  }

  // Every row [0, count) with its exact bytes, and nothing else.
  static void expect_rows(Database& db, std::int64_t count) {
    const Rows rows = db.read([](Tx& tx) { return tx.query("SELECT id, b FROM blobs ORDER BY id"); });
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(count));
    for (std::int64_t id = 0; id < count; ++id) {
      const Row& row = rows[static_cast<std::size_t>(id)];
      ASSERT_EQ(row.get_int(0), id);
      ASSERT_EQ(row.get_blob(1), row_for(id)) << "row " << id;
    }
  }

  static bool eventually(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  // The background thread wrote at least half the pages of the commit that woke it (rows of
  // their own page each) to the database file: a checkpoint, not a header update.
  bool background_checkpointed() const {
    return g_probe_db_writes_elsewhere.load() > 0 &&
           std::filesystem::file_size(m_path) >=
               static_cast<std::uintmax_t>(sqlite_checkpoint_wal_pages / 2) * static_cast<std::uintmax_t>(page_size);
  }

  std::uintmax_t wal_bytes() const {
    std::error_code ec;
    const auto size = std::filesystem::file_size(m_path + "-wal", ec);
    return ec ? 0 : size;
  }

  bool m_registered = false;
  std::filesystem::path m_dir;
  std::string m_path;
  std::unique_ptr<Database> m_db;
};

TEST_F(SqliteWalCheckpoints, CommitsLeaveTheCheckpointToTheBackgroundThread) {
  // 1,500 pages in transactions of 50: past the threshold, far from the hard limit.
  write_rows(0, sqlite_checkpoint_wal_pages * 3 / 2, 50);
  // SQLite's auto-checkpoint would have written the database file on this thread, in the commit
  // that crossed the threshold.
  ASSERT_TRUE(eventually([&] { return background_checkpointed() || g_probe_db_writes_on_test_thread.load() > 0; }))
      << "no checkpoint at all";
  EXPECT_EQ(g_probe_db_writes_on_test_thread.load(), 0) << "a commit checkpointed on the writer";
  EXPECT_TRUE(background_checkpointed()) << "no checkpoint off the writer's thread: "
                                         << g_probe_db_writes_elsewhere.load() << " writes, database file "
                                         << std::filesystem::file_size(m_path) << " bytes";
  expect_rows(*m_db, sqlite_checkpoint_wal_pages * 3 / 2);
}

TEST_F(SqliteWalCheckpoints, NothingIsLostAcrossCheckpointsCloseAndReopen) {
  const std::int64_t before = sqlite_checkpoint_wal_pages * 3 / 2;
  const std::int64_t after = 500;
  write_rows(0, before, 50);
  ASSERT_TRUE(eventually([&] { return background_checkpointed(); }));
  // Rows written after the checkpoint: some perhaps checkpointed in turn, the rest in the WAL.
  write_rows(before, after, 50);
  expect_rows(*m_db, before + after);
  EXPECT_EQ(g_probe_db_writes_on_test_thread.load(), 0);

  m_db.reset();
  // The last connection to close checkpoints the WAL and deletes it; it could not while any
  // other connection of this process (the checkpointer's included) were still open.
  EXPECT_FALSE(std::filesystem::exists(m_path + "-wal"));

  m_db = Database::open(url());
  expect_rows(*m_db, before + after);
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("PRAGMA integrity_check")->get_text(0); }), "ok");
}

TEST_F(SqliteWalCheckpoints, FramesAReaderHeldBackAreCheckpointedWhenItEndsWithoutAnotherCommit) {
  write_rows(0, 10, 10);
  // A read transaction on another thread keeps the snapshot of those 10 rows while 1,500 more
  // are committed: every checkpoint the commits wake stops at that snapshot.
  std::promise<void> reading;
  std::promise<void> release;
  std::thread reader([&] {
    m_db->read([&](Tx& tx) {
      tx.query("SELECT count(*) FROM blobs");
      reading.set_value();
      release.get_future().wait();
      return 0;
    });
  });
  reading.get_future().wait();
  write_rows(10, sqlite_checkpoint_wal_pages * 3 / 2, 50);
  EXPECT_FALSE(background_checkpointed()) << "a checkpoint went past the reader's snapshot";
  release.set_value();
  reader.join();
  // No commit follows: the background thread tries again by itself once the reader is gone.
  EXPECT_TRUE(eventually([&] { return background_checkpointed(); }))
      << "frames held back by the reader were never checkpointed; database file " << std::filesystem::file_size(m_path)
      << " bytes";
  EXPECT_EQ(g_probe_db_writes_on_test_thread.load(), 0);
  expect_rows(*m_db, 10 + sqlite_checkpoint_wal_pages * 3 / 2);
}

TEST_F(SqliteWalCheckpoints, TheWriterCheckpointsPastTheHardLimitWhenTheBackgroundCannot) {
  g_probe_refuse_checkpoint_lock = true;
  // Twice the hard limit: a WAL that nobody checkpointed would hold all of it.
  constexpr std::int64_t per_tx = 100;
  const std::int64_t rows = 2 * sqlite_writer_checkpoint_wal_pages;
  write_rows(0, rows, per_tx);

  // The WAL file keeps its longest length (after a complete checkpoint, the next transaction
  // writes from its start again): at most the hard limit plus the transaction that crossed it
  // (its rows, and a few interior pages: twice its rows is ample).
  const std::uintmax_t frame_bytes = 24 + page_size;
  const std::uintmax_t bound = 32 + (sqlite_writer_checkpoint_wal_pages + 2 * per_tx) * frame_bytes;
  EXPECT_LE(wal_bytes(), bound) << "the WAL grew past its hard limit";
  EXPECT_GT(g_probe_refused_checkpoints.load(), 0) << "the background thread never tried to checkpoint";
  EXPECT_EQ(g_probe_db_writes_elsewhere.load(), 0);
  EXPECT_GT(g_probe_db_writes_on_test_thread.load(), 0) << "the writer never checkpointed";
  expect_rows(*m_db, rows);
}

}  // namespace
}  // namespace gh::store
