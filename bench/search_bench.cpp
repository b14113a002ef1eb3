// Channel search against each database's own full-text index, doing the same work in the same run
// on the same database:
//   - gatehouse: msg_search_terms (one row per distinct term of a body, messaging/search_text.hpp),
//     written with the message; a search walks windows of --window seqs newest first, as
//     MessagingService::search pages, until it has the newest `limit` matches or reaches seq 1.
//   - SQLite: an FTS5 table (unicode61 tokenizer, rowid = seq), `MATCH` ORDER BY rowid DESC LIMIT.
//   - PostgreSQL: a GIN index on to_tsvector('simple', body), `@@ plainto_tsquery('simple', ...)`
//     ORDER BY seq DESC LIMIT.
// The corpus is synthesized here: --messages bodies of 4 to 24 words drawn from a Zipf vocabulary
// of ASCII words (some capitalized), which both tokenizers read the same way. Writes go in
// transactions of --batch messages; three channels take the same bodies, interleaved batch by
// batch: the message alone, the message with gatehouse's terms, the message with the baseline's
// index row; the index's cost per message is its channel's time minus the plain one's. Queries
// are of three kinds (one common word; a common and a middling word; two middling words), and
// every query's result must be the same seqs on both sides, or the bench fails.
//
//   gh_search_bench [--messages N] [--queries N] [--batch N] [--window N] [--limit N]
//                   [--backend sqlite|postgres|both]
// PostgreSQL comes from GATEHOUSE_TEST_POSTGRES_URL (scripts/test-services start).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "messaging/migrations.hpp"
#include "messaging/model.hpp"
#include "messaging/search_text.hpp"
#include "messaging/store.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::messaging {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t messages = 100'000;
  std::size_t queries = 300;
  std::size_t batch = 50;
  std::int64_t window = 10'000;
  std::size_t limit = 25;
  std::string backend = "both";
};

struct Corpus {
  std::vector<std::string> vocabulary;  ///< by rank: 0 is the most frequent
  std::vector<std::string> bodies;      ///< bodies[i] is seq i + 1
};

Corpus make_corpus(const Options& o) {
  std::mt19937_64 rng(20261127);
  Corpus c;
  std::set<std::string> seen;
  std::uniform_int_distribution<int> length(3, 9);
  std::uniform_int_distribution<int> letter('a', 'z');
  while (c.vocabulary.size() < 20'000) {
    std::string w;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) w.push_back(static_cast<char>(letter(rng)));
    if (seen.insert(w).second) c.vocabulary.push_back(w);
  }
  // Zipf (s = 1) by inverse transform over the cumulative weights.
  std::vector<double> cumulative(c.vocabulary.size());
  double total = 0;
  for (std::size_t r = 0; r < cumulative.size(); ++r) cumulative[r] = total += 1.0 / static_cast<double>(r + 1);
  std::uniform_real_distribution<double> u(0, total);
  std::uniform_int_distribution<int> words(4, 24);
  std::uniform_int_distribution<int> capital(0, 9);
  c.bodies.reserve(o.messages);
  for (std::size_t i = 0; i < o.messages; ++i) {
    std::string body;
    const int n = words(rng);
    for (int k = 0; k < n; ++k) {
      const auto rank =
          static_cast<std::size_t>(std::lower_bound(cumulative.begin(), cumulative.end(), u(rng)) - cumulative.begin());
      std::string w = c.vocabulary[std::min(rank, c.vocabulary.size() - 1)];
      if (capital(rng) == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
      if (k > 0) body += k % 7 == 0 ? ", " : " ";
      body += w;
    }
    c.bodies.push_back(std::move(body));
  }
  return c;
}

Message message_of(const std::string& channel, std::int64_t seq, const std::string& body) {
  Message m;
  m.id = channel + "-" + std::to_string(seq);
  m.channel_id = channel;
  m.seq = seq;
  m.author = *eth::parse_address("0x00000000000000000000000000000000000000aa");
  m.client_id = "k" + std::to_string(seq);
  m.body = body;
  m.created_at = SystemTime(std::chrono::milliseconds(1'700'000'000'000 + seq));
  return m;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct WriteTimes {
  double plain = 0;
  double ours = 0;
  double baseline = 0;
};

WriteTimes write_corpus(store::Database& db, const Corpus& c, const Options& o) {
  const bool pg = db.dialect() == store::Dialect::postgres;
  WriteTimes t;
  for (std::size_t first = 0; first < c.bodies.size(); first += o.batch) {
    const auto last = std::min(c.bodies.size(), first + o.batch);
    auto started = Clock::now();
    db.transact([&](store::Tx& tx) {
      for (std::size_t i = first; i < last; ++i) {
        const auto seq = static_cast<std::int64_t>(i + 1);
        sql::insert_message(tx, message_of("plain", seq, c.bodies[i]));
      }
    });
    t.plain += seconds_since(started);
    started = Clock::now();
    db.transact([&](store::Tx& tx) {
      for (std::size_t i = first; i < last; ++i) {
        const auto seq = static_cast<std::int64_t>(i + 1);
        sql::insert_message(tx, message_of("ours", seq, c.bodies[i]));
        sql::index_terms(tx, "ours", seq, search_terms(c.bodies[i]));
      }
    });
    t.ours += seconds_since(started);
    started = Clock::now();
    db.transact([&](store::Tx& tx) {
      for (std::size_t i = first; i < last; ++i) {
        const auto seq = static_cast<std::int64_t>(i + 1);
        sql::insert_message(tx, message_of("fts", seq, c.bodies[i]));
        tx.exec(pg ? "INSERT INTO bench_fts (seq, body) VALUES ($1, $2)"
                   : "INSERT INTO bench_fts (rowid, body) VALUES ($1, $2)",
                {seq, c.bodies[i]});
      }
    });
    t.baseline += seconds_since(started);
  }
  return t;
}

// The newest `limit` matches, window by window, as a client pages through MessagingService::search.
std::vector<std::int64_t> search_ours(store::Database& db, const std::vector<std::string>& terms, std::int64_t head,
                                      const Options& o, std::size_t& windows) {
  std::vector<std::int64_t> found;
  std::int64_t below = head + 1;
  windows = 0;
  while (found.size() < o.limit && below > 1) {
    sql::SearchScan scan;
    scan.channel_id = "ours";
    scan.terms = terms;
    scan.below_seq = below;
    scan.from_seq = std::max<std::int64_t>(1, below - o.window);
    scan.limit = o.limit - found.size();
    ++windows;
    auto page = db.read([&](store::Tx& tx) { return sql::search(tx, scan); });
    for (const auto& m : page) found.push_back(m.seq);
    below = scan.from_seq;
  }
  return found;
}

std::vector<std::int64_t> search_baseline(store::Database& db, const std::string& query, const Options& o) {
  const bool pg = db.dialect() == store::Dialect::postgres;
  return db.read([&](store::Tx& tx) {
    auto rows = tx.query(pg ? "SELECT seq FROM bench_fts WHERE to_tsvector('simple', body) @@ "
                              "plainto_tsquery('simple', $1) ORDER BY seq DESC LIMIT $2"
                            : "SELECT rowid FROM bench_fts WHERE bench_fts MATCH $1 ORDER BY rowid DESC LIMIT $2",
                         {query, static_cast<std::int64_t>(o.limit)});
    std::vector<std::int64_t> seqs;
    for (const auto& r : rows) seqs.push_back(r.get_int(0));
    return seqs;
  });
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(at, v.size() - 1)];
}

int run_backend(store::Dialect dialect, const Options& o, const Corpus& c) {
  store::testing::FreshDatabase fresh(dialect, "searchbench");
  const char* name = store::to_string(dialect);
  if (!fresh.unavailable.empty()) {
    std::printf("%-8s  skipped: %s\n", name, fresh.unavailable.c_str());
    return 0;
  }
  auto db = fresh.open();
  db->migrate(std::vector<store::MigrationSet>{migrations()});
  db->transact([&](store::Tx& tx) {
    if (dialect == store::Dialect::postgres) {
      tx.execute_script(
          "CREATE TABLE bench_fts (seq BIGINT PRIMARY KEY, body TEXT NOT NULL);"
          "CREATE INDEX bench_fts_body ON bench_fts USING GIN (to_tsvector('simple', body));");
    } else {
      tx.execute_script("CREATE VIRTUAL TABLE bench_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 0');");
    }
  });
  const auto writes = write_corpus(*db, c, o);
  if (dialect == store::Dialect::postgres) db->transact([](store::Tx& tx) { tx.execute_script("ANALYZE;"); });
  const auto n = static_cast<double>(c.bodies.size());
  std::printf(
      "%-8s  %zu messages, transactions of %zu: per message %.1f us alone, index +%.1f us (gatehouse) vs +%.1f us "
      "(%s), ratio %.2f\n",
      name, c.bodies.size(), o.batch, 1e6 * writes.plain / n, 1e6 * (writes.ours - writes.plain) / n,
      1e6 * (writes.baseline - writes.plain) / n, dialect == store::Dialect::postgres ? "GIN tsvector" : "FTS5",
      (writes.ours - writes.plain) / std::max(1e-9, writes.baseline - writes.plain));

  // Queries: common words are ranks 0-99, middling ones 100-2,000.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> common(0, 99);
  std::uniform_int_distribution<std::size_t> middling(100, 2'000);
  const char* kinds[] = {"one common word", "common + middling", "two middling"};
  int failures = 0;
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<double> ours_us;
    std::vector<double> base_us;
    std::size_t windows_total = 0;
    std::size_t results = 0;
    for (std::size_t q = 0; q < o.queries; ++q) {
      std::string query = c.vocabulary[kind == 2 ? middling(rng) : common(rng)];
      if (kind > 0) query += " " + c.vocabulary[middling(rng)];
      const auto terms = *parse_search_query(query);
      // Alternate which side goes first, so that neither always meets a warm cache.
      std::vector<std::int64_t> ours;
      std::vector<std::int64_t> base;
      std::size_t windows = 0;
      auto time_ours = [&] {
        const auto t = Clock::now();
        ours = search_ours(*db, terms, static_cast<std::int64_t>(c.bodies.size()), o, windows);
        ours_us.push_back(1e6 * seconds_since(t));
      };
      auto time_base = [&] {
        const auto t = Clock::now();
        base = search_baseline(*db, query, o);
        base_us.push_back(1e6 * seconds_since(t));
      };
      if (q % 2 == 0) {
        time_ours();
        time_base();
      } else {
        time_base();
        time_ours();
      }
      windows_total += windows;
      results += ours.size();
      if (ours != base) {
        if (++failures <= 3)
          std::printf("  MISMATCH for \"%s\": %zu vs %zu results\n", query.c_str(), ours.size(), base.size());
      }
    }
    const double p50_ours = percentile(ours_us, 0.5);
    const double p50_base = percentile(base_us, 0.5);
    std::printf(
        "%-8s  %-18s %4zu queries, %5.1f results and %5.1f windows each: p50 %8.0f us vs %8.0f us (ratio %.2f), "
        "p99 %8.0f us vs %8.0f us\n",
        name, kinds[kind], o.queries, static_cast<double>(results) / static_cast<double>(o.queries),
        static_cast<double>(windows_total) / static_cast<double>(o.queries), p50_ours, p50_base,
        p50_ours / std::max(1e-9, p50_base), percentile(ours_us, 0.99), percentile(base_us, 0.99));
  }
  if (failures > 0) std::printf("%-8s  %d queries differed from the baseline\n", name, failures);
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace gh::messaging

int main(int argc, char** argv) {
  gh::messaging::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--messages") {
      o.messages = std::stoul(value);
    } else if (flag == "--queries") {
      o.queries = std::stoul(value);
    } else if (flag == "--batch") {
      o.batch = std::max<std::size_t>(1, std::stoul(value));
    } else if (flag == "--window") {
      o.window = std::max<std::int64_t>(1, std::stol(value));
    } else if (flag == "--limit") {
      o.limit = std::max<std::size_t>(1, std::stoul(value));
    } else if (flag == "--backend") {
      o.backend = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const auto corpus = gh::messaging::make_corpus(o);
  int status = 0;
  if (o.backend == "sqlite" || o.backend == "both") {
    status |= gh::messaging::run_backend(gh::store::Dialect::sqlite, o, corpus);
  }
  if (o.backend == "postgres" || o.backend == "both") {
    status |= gh::messaging::run_backend(gh::store::Dialect::postgres, o, corpus);
  }
  return status;
}
