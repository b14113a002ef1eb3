#include "bus/bus.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "store/in_list.hpp"

namespace gh::bus {
namespace {

namespace asio = boost::asio;

// Held from a transaction's first publish to its commit on PostgreSQL, so that outbox ids are
// committed in the order they are assigned and a consumer's single offset never skips a late
// commit. SQLite needs nothing: it has one writer.
constexpr std::int64_t outbox_lock_key = 0x6761746568'6f7573;  // "gatehous"

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string make_event_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Time first, so ids sort roughly by creation; 64 random bits make collisions negligible.
  return fmt::format("{:012x}{:016x}", static_cast<std::uint64_t>(now_ms()), rng());
}

bool valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > 128) return false;
  const auto dot = topic.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == topic.size()) return false;
  return std::all_of(topic.begin(), topic.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'; });
}

Event event_from_row(const store::Row& row) {
  Event e;
  e.id = row.get_int("id");
  e.event_id = row.get_text("event_id");
  e.topic = row.get_text("topic");
  e.ordering_key = row.get_text("ordering_key");
  e.payload = row.get_text("payload");
  e.created_ms = row.get_int("created_ms");
  return e;
}

// Locks the consumer's offset row (creating it at 0), so two workers never apply one consumer's
// events at the same time; returns the offset.
std::int64_t lock_offset(store::Tx& tx, std::string_view consumer) {
  const std::string name(consumer);
  const char* select = tx.dialect() == store::Dialect::postgres
                           ? "SELECT last_id FROM bus_consumer_offsets WHERE consumer = $1 FOR UPDATE"
                           : "SELECT last_id FROM bus_consumer_offsets WHERE consumer = $1";
  if (auto row = tx.query_one(select, {name})) return row->get_int(0);
  tx.exec(
      "INSERT INTO bus_consumer_offsets (consumer, last_id, updated_ms) VALUES ($1, 0, $2) "
      "ON CONFLICT (consumer) DO NOTHING",
      {name, now_ms()});
  auto row = tx.query_one(select, {name});
  return row ? row->get_int(0) : 0;
}

void set_offset(store::Tx& tx, std::string_view consumer, std::int64_t id) {
  tx.exec_deferred("UPDATE bus_consumer_offsets SET last_id = $2, updated_ms = $3 WHERE consumer = $1 AND last_id < $2",
                   {std::string(consumer), id, now_ms()});
}

// Moves the consumer's offset to `id` when it is still below `below`, in one statement that also
// takes the offset's row lock: true when it did, so that nobody has applied an event from `below`
// on and none will until this transaction ends. False when the offset reached `below` (another
// worker) or has no row yet; then lock_offset tells where it stands.
bool claim_offset(store::Tx& tx, std::string_view consumer, std::int64_t below, std::int64_t id) {
  return tx.exec("UPDATE bus_consumer_offsets SET last_id = $2, updated_ms = $3 WHERE consumer = $1 AND last_id < $4",
                 {std::string(consumer), id, now_ms(), below}) == 1;
}

// Publishes made on this thread, so that a consumer whose apply published wakes the dispatcher
// (a transaction retried counts twice: one needless wake at most).
thread_local std::uint64_t t_publishes = 0;

}  // namespace

bool topic_matches(const std::vector<std::string>& patterns, std::string_view topic) {
  for (const auto& p : patterns) {
    if (p == topic) return true;
    if (p.size() >= 2 && p.compare(p.size() - 2, 2, ".*") == 0 &&
        topic.substr(0, p.size() - 1) == std::string_view(p).substr(0, p.size() - 1)) {
      return true;
    }
  }
  return false;
}

namespace {

/// Reads JSON and keeps nothing: a syntax check without building a document.
struct SyntaxOnly {
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  using ec = boost::system::error_code;
  using sv = boost::json::string_view;
  bool on_document_begin(ec&) { return true; }
  bool on_document_end(ec&) { return true; }
  bool on_object_begin(ec&) { return true; }
  bool on_object_end(std::size_t, ec&) { return true; }
  bool on_array_begin(ec&) { return true; }
  bool on_array_end(std::size_t, ec&) { return true; }
  bool on_key_part(sv, std::size_t, ec&) { return true; }
  bool on_key(sv, std::size_t, ec&) { return true; }
  bool on_string_part(sv, std::size_t, ec&) { return true; }
  bool on_string(sv, std::size_t, ec&) { return true; }
  bool on_number_part(sv, ec&) { return true; }
  bool on_int64(std::int64_t, sv, ec&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec&) { return true; }
  bool on_double(double, sv, ec&) { return true; }
  bool on_bool(bool, ec&) { return true; }
  bool on_null(ec&) { return true; }
  bool on_comment_part(sv, ec&) { return true; }
  bool on_comment(sv, ec&) { return true; }
};

/// True when `text` is one JSON object (the parser's default limits, as boost::json::parse).
bool is_json_object(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') return false;
  boost::json::basic_parser<SyntaxOnly> parser(boost::json::parse_options{});
  boost::system::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  return !ec && used == text.size() && parser.done();
}

Result<void> check_event(const NewEvent& event) {
  if (!valid_topic(event.topic))
    return bad_input("invalid_topic", "event topic must look like context.event: " + event.topic);
  if (event.ordering_key.size() > 256) return bad_input("invalid_ordering_key", "ordering key longer than 256 bytes");
  if (event.payload.size() > max_payload_bytes) {
    return make_error(ErrorKind::too_large, "event_too_large",
                      fmt::format("event payload exceeds {} bytes", max_payload_bytes));
  }
  if (!is_json_object(event.payload)) return bad_input("invalid_payload", "event payload must be a JSON object");
  return ok();
}

void lock_outbox(store::Tx& tx) {
  if (tx.dialect() == store::Dialect::postgres) tx.exec_deferred("SELECT pg_advisory_xact_lock($1)", {outbox_lock_key});
}

// One event's row. On PostgreSQL the outbox lock is taken by the same statement, before the id is
// drawn: the subquery with the (volatile) lock call is scanned before the row is projected with
// nextval. Taking the lock again in one transaction costs nothing more.
void insert_event(store::Tx& tx, const std::string& event_id, const NewEvent& event) {
  if (tx.dialect() == store::Dialect::postgres) {
    tx.exec_deferred(
        "INSERT INTO bus_outbox (event_id, topic, ordering_key, payload, created_ms) "
        "SELECT $1, $2, $3, $4, $5 FROM (SELECT pg_advisory_xact_lock($6)) AS outbox_lock",
        {event_id, event.topic, event.ordering_key, event.payload, now_ms(), outbox_lock_key});
    return;
  }
  tx.exec_deferred(
      "INSERT INTO bus_outbox (event_id, topic, ordering_key, payload, created_ms) VALUES ($1, $2, $3, $4, $5)",
      {event_id, event.topic, event.ordering_key, event.payload, now_ms()});
}

// Rows per multi-row INSERT of publish_many (5 parameters each).
constexpr std::size_t rows_per_insert = 100;

}  // namespace

Result<std::string> publish(store::Tx& tx, const NewEvent& event) {
  if (auto checked = check_event(event); !checked) return checked.error();
  auto id = make_event_id();
  insert_event(tx, id, event);
  ++t_publishes;
  return id;
}

Result<CheckedEvent> check(NewEvent event) {
  if (auto checked = check_event(event); !checked) return checked.error();
  return CheckedEvent(std::move(event));
}

Result<std::vector<std::string>> publish_many(store::Tx& tx, const std::vector<NewEvent>& events) {
  std::vector<CheckedEvent> checked;
  checked.reserve(events.size());
  for (const auto& event : events) {
    auto c = check(event);
    if (!c) return c.error();
    checked.push_back(std::move(*c));
  }
  std::vector<const CheckedEvent*> all;
  all.reserve(checked.size());
  for (const auto& c : checked) all.push_back(&c);
  return publish_checked(tx, all);
}

std::vector<std::string> publish_checked(store::Tx& tx, std::span<const CheckedEvent* const> events) {
  std::vector<std::string> ids;
  if (events.empty()) return ids;
  ids.reserve(events.size());
  ++t_publishes;
  if (events.size() == 1) {
    ids.push_back(make_event_id());
    insert_event(tx, ids.back(), events[0]->event());
    return ids;
  }
  lock_outbox(tx);
  const auto created = now_ms();
  std::string sql;
  std::vector<store::Value> params;
  for (std::size_t first = 0; first < events.size(); first += rows_per_insert) {
    const std::size_t last = std::min(events.size(), first + rows_per_insert);
    sql = "INSERT INTO bus_outbox (event_id, topic, ordering_key, payload, created_ms) VALUES ";
    params.clear();
    params.reserve((last - first) * 5);
    for (std::size_t i = first; i < last; ++i) {
      const auto n = params.size();
      if (i > first) sql += ", ";
      fmt::format_to(std::back_inserter(sql), "(${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5);
      const NewEvent& e = events[i]->event();
      ids.push_back(make_event_id());
      params.emplace_back(ids.back());
      params.emplace_back(e.topic);
      params.emplace_back(e.ordering_key);
      params.emplace_back(e.payload);
      params.emplace_back(created);
    }
    tx.exec_deferred(sql, params);
  }
  return ids;
}

std::vector<Event> read_outbox(store::Tx& tx, std::int64_t after_id, std::size_t limit) {
  std::vector<Event> out;
  const auto rows = tx.query(
      "SELECT id, event_id, topic, ordering_key, payload, created_ms FROM bus_outbox WHERE id > $1 ORDER BY id LIMIT "
      "$2",
      {after_id, static_cast<std::int64_t>(limit)});
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(event_from_row(row));
  return out;
}

namespace {

OutboxRead read_matching(store::Tx& tx, std::int64_t after_id, const std::vector<std::string>& patterns,
                         std::size_t limit, bool whole) {
  // One statement, so one snapshot: the head (the row of kind 0) and the events agree. Every event
  // up to the head is committed (see outbox_head), so those of the consumer's topics up to it are
  // exactly the ones read when fewer than `limit` came.
  std::string sql = whole ? "SELECT 1, id, topic, ordering_key, created_ms, event_id, payload FROM (SELECT id, topic, "
                            "ordering_key, created_ms, event_id, payload"
                          : "SELECT 1, id, topic, ordering_key, created_ms FROM (SELECT id, topic, ordering_key, "
                            "created_ms";
  sql += " FROM bus_outbox WHERE id > $1 AND (";
  std::vector<store::Value> params{after_id};
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const auto& p = patterns[i];
    if (i > 0) sql += " OR ";
    const bool prefix = p.size() >= 2 && p.compare(p.size() - 2, 2, ".*") == 0;
    // "context.*" matches what starts with "context.": substr compares exactly, where LIKE would
    // read the topic's '_' as a wildcard.
    params.emplace_back(prefix ? p.substr(0, p.size() - 1) : p);
    if (prefix) {
      sql += fmt::format("substr(topic, 1, {}) = ${}", p.size() - 1, params.size());
    } else {
      sql += fmt::format("topic = ${}", params.size());
    }
  }
  if (patterns.empty()) sql += "1 = 0";
  sql +=
      fmt::format(") ORDER BY id LIMIT ${}) AS events UNION ALL SELECT 0, max(id), NULL, NULL, NULL{} FROM bus_outbox",
                  params.size() + 1, whole ? ", NULL, NULL" : "");
  params.emplace_back(static_cast<std::int64_t>(limit));
  OutboxRead out;
  const auto rows = tx.query(sql, params);
  out.events.reserve(rows.size());
  for (const auto& row : rows) {
    if (row.get_int(0) == 0) {
      out.head = row.is_null(1) ? 0 : row.get_int(1);
      continue;
    }
    Event e;
    e.id = row.get_int(1);
    e.topic = row.get_text(2);
    e.ordering_key = row.get_text(3);
    e.created_ms = row.get_int(4);
    if (whole) {
      e.event_id = row.get_text(5);
      e.payload = row.get_text(6);
    }
    out.events.push_back(std::move(e));
  }
  // A union's rows come in no promised order.
  std::sort(out.events.begin(), out.events.end(), [](const Event& a, const Event& b) { return a.id < b.id; });
  return out;
}

}  // namespace

OutboxRead read_outbox_matching(store::Tx& tx, std::int64_t after_id, const std::vector<std::string>& patterns,
                                std::size_t limit) {
  return read_matching(tx, after_id, patterns, limit, true);
}

OutboxRead read_outbox_heads_matching(store::Tx& tx, std::int64_t after_id, const std::vector<std::string>& patterns,
                                      std::size_t limit) {
  return read_matching(tx, after_id, patterns, limit, false);
}

void read_payloads(store::Tx& tx, std::vector<Event>& events) {
  constexpr std::size_t per_statement = 200;
  for (std::size_t first = 0; first < events.size(); first += per_statement) {
    const std::size_t last = std::min(events.size(), first + per_statement);
    std::string sql = "SELECT id, event_id, payload FROM bus_outbox WHERE id IN (";
    std::vector<store::Value> params;
    params.reserve(last - first);
    std::unordered_map<std::int64_t, Event*> by_id;
    for (std::size_t i = first; i < last; ++i) {
      if (i > first) sql += ", ";
      params.emplace_back(events[i].id);
      fmt::format_to(std::back_inserter(sql), "${}", params.size());
      by_id.emplace(events[i].id, &events[i]);
    }
    sql += ")";
    for (const auto& row : tx.query(sql, params)) {
      if (auto it = by_id.find(row.get_int(0)); it != by_id.end()) {
        it->second->event_id = row.get_text(1);
        it->second->payload = row.get_text(2);
      }
    }
  }
}

std::int64_t outbox_head(store::Tx& tx) {
  auto row = tx.query_one("SELECT max(id) FROM bus_outbox");
  return row && !row->is_null(0) ? row->get_int(0) : 0;
}

std::int64_t consumer_offset(store::Tx& tx, std::string_view consumer) {
  auto row = tx.query_one("SELECT last_id FROM bus_consumer_offsets WHERE consumer = $1", {std::string(consumer)});
  return row ? row->get_int(0) : 0;
}

std::int64_t purge_processed(store::Tx& tx, std::int64_t cutoff_ms, std::size_t limit) {
  return tx.exec(
      "DELETE FROM bus_processed WHERE (consumer, event_id) IN "
      "(SELECT consumer, event_id FROM bus_processed WHERE processed_ms < $1 LIMIT $2)",
      {cutoff_ms, static_cast<std::int64_t>(limit)});
}

std::int64_t purge_delivered_outbox(store::Tx& tx, std::int64_t cutoff_ms, const std::vector<std::string>& consumers,
                                    std::size_t limit) {
  // The lowest offset of any consumer, known here or recorded by another node; with none at
  // all, nobody has read anything and nothing is delivered.
  std::optional<std::int64_t> floor;
  for (const auto& name : consumers) {
    const auto offset = consumer_offset(tx, name);
    floor = floor ? std::min(*floor, offset) : offset;
  }
  if (auto row = tx.query_one("SELECT min(last_id) FROM bus_consumer_offsets"); row && !row->is_null(0)) {
    floor = floor ? std::min(*floor, row->get_int(0)) : row->get_int(0);
  }
  if (!floor || *floor <= 0) return 0;
  return tx.exec(
      "DELETE FROM bus_outbox WHERE id IN (SELECT id FROM bus_outbox WHERE id <= $1 AND created_ms < $2 "
      "AND id NOT IN (SELECT outbox_id FROM bus_dead_letters) ORDER BY id LIMIT $3)",
      {*floor, cutoff_ms, static_cast<std::int64_t>(limit)});
}

bool apply_once(store::Database& db, const Consumer& consumer, const Event& event) {
  return db.transact([&](store::Tx& tx) {
    if (lock_offset(tx, consumer.name) >= event.id) return false;  // another worker got here first
    const auto fresh = tx.exec(
        "INSERT INTO bus_processed (consumer, event_id, processed_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (consumer, event_id) DO NOTHING",
        {consumer.name, event.event_id, now_ms()});
    if (fresh == 1) consumer.apply(tx, event);
    set_offset(tx, consumer.name, event.id);
    return fresh == 1;
  });
}

namespace {

// Rows per multi-row INSERT of idempotency records (the consumer and the time shared).
constexpr std::size_t processed_per_insert = 300;

// Records the events as processed by the consumer, in as few statements as the batch allows, and
// returns which of them are fresh (recorded now, not before), by position.
std::vector<bool> record_processed(store::Tx& tx, const std::string& consumer, std::span<const Event* const> events,
                                   std::int64_t now) {
  std::vector<bool> fresh(events.size(), false);
  if (events.size() == 1) {
    fresh[0] = tx.exec(
                   "INSERT INTO bus_processed (consumer, event_id, processed_ms) VALUES ($1, $2, $3) "
                   "ON CONFLICT (consumer, event_id) DO NOTHING",
                   {consumer, events[0]->event_id, now}) == 1;
    return fresh;
  }
  std::vector<std::string> ids;
  ids.reserve(events.size());
  std::unordered_map<std::string_view, std::size_t> position;
  for (std::size_t i = 0; i < events.size(); ++i) {
    ids.push_back(events[i]->event_id);
    position.emplace(events[i]->event_id, i);
  }
  // $1 the consumer, $2 the time, then one event id per row.
  store::for_each_in_list(ids, processed_per_insert, {consumer, now},
                          [&](const std::string&, const std::vector<store::Value>& params) {
                            std::string sql = "INSERT INTO bus_processed (consumer, event_id, processed_ms) VALUES ";
                            for (std::size_t k = 3; k <= params.size(); ++k) {
                              fmt::format_to(std::back_inserter(sql), "{}($1, ${}, $2)", k > 3 ? ", " : "", k);
                            }
                            sql += " ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id";
                            for (const auto& row : tx.query(sql, params)) {
                              if (auto it = position.find(row.get_text(0)); it != position.end()) {
                                fresh[it->second] = true;
                              }
                            }
                          });
  return fresh;
}

struct BatchApplied {
  std::size_t fresh = 0;
  bool published = false;  ///< an apply published events (the dispatcher should look for them)
};

BatchApplied apply_events(store::Database& db, const Consumer& consumer, std::span<const Event> events,
                          std::int64_t through) {
  BatchApplied out;
  if (events.empty()) return out;
  through = std::max(through, events.back().id);
  const auto publishes_before = t_publishes;
  out.fresh = db.transact([&](store::Tx& tx) {
    std::vector<const Event*> mine;
    mine.reserve(events.size());
    for (const auto& event : events) {
      if (topic_matches(consumer.topics, event.topic)) mine.push_back(&event);
    }
    // Usually no other worker has touched these events: the offset moves first, in the statement
    // that locks it. Otherwise the offset as locked says which are left.
    std::int64_t offset = 0;
    const bool claimed = !mine.empty() && claim_offset(tx, consumer.name, mine.front()->id, through);
    if (!claimed) {
      offset = lock_offset(tx, consumer.name);
      std::erase_if(mine, [&](const Event* e) { return e->id <= offset; });
    }
    std::size_t fresh_count = 0;
    if (!mine.empty()) {
      const auto fresh = record_processed(tx, consumer.name, mine, now_ms());
      for (std::size_t i = 0; i < mine.size(); ++i) {
        if (!fresh[i]) continue;
        consumer.apply(tx, *mine[i]);
        ++fresh_count;
      }
    }
    if (!claimed && through > offset) set_offset(tx, consumer.name, through);
    return fresh_count;
  });
  out.published = t_publishes != publishes_before;
  return out;
}

}  // namespace

std::size_t apply_batch(store::Database& db, const Consumer& consumer, std::span<const Event> events,
                        std::int64_t through) {
  return apply_events(db, consumer, events, through).fresh;
}

namespace {

void dead_letter(store::Database& db, const Consumer& consumer, const Event& event, int attempts,
                 const std::string& error) {
  db.transact([&](store::Tx& tx) {
    lock_offset(tx, consumer.name);
    tx.exec(
        "INSERT INTO bus_dead_letters (consumer, event_id, outbox_id, topic, attempts, error, failed_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (consumer, event_id) DO NOTHING",
        {consumer.name, event.event_id, event.id, event.topic, static_cast<std::int64_t>(attempts),
         to_valid_utf8(error, 2000), now_ms()});
    set_offset(tx, consumer.name, event.id);
  });
}

// Moves the offset forward to `id` (never back), creating its row when new.
void advance(store::Database& db, const std::string& consumer, std::int64_t id) {
  db.transact([&](store::Tx& tx) {
    tx.exec_deferred(
        "INSERT INTO bus_consumer_offsets (consumer, last_id, updated_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (consumer) DO UPDATE SET last_id = excluded.last_id, updated_ms = excluded.updated_ms "
        "WHERE bus_consumer_offsets.last_id < excluded.last_id",
        {consumer, id, now_ms()});
  });
}

}  // namespace

struct Dispatcher::Impl : std::enable_shared_from_this<Dispatcher::Impl> {
  struct Running {
    Consumer consumer;
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer timer;
    std::atomic<std::uint64_t> wakes{0};  ///< wake-ups for this consumer's topics (or all)
    metrics::Counter* delivered = nullptr;
    metrics::Counter* reads = nullptr;
    metrics::Counter* failures = nullptr;
    metrics::Counter* dead = nullptr;
    metrics::Gauge* lag = nullptr;
    metrics::Histogram* latency = nullptr;
    Running(Consumer c, const asio::any_io_executor& ex)
        : consumer(std::move(c)), strand(asio::make_strand(ex)), timer(strand) {}
  };

  Impl(Executor ex, store::Database& d, BlockingPool& p, metrics::Registry& r, DispatcherSettings s)
      : executor(std::move(ex)),
        db(d),
        pool(p),
        registry(r),
        settings(s),
        poll_strand(asio::make_strand(executor)),
        poll_timer(poll_strand),
        probes(r.counter("gatehouse_bus_probe_reads_total",
                         "Reads of the bus wake-up probe: after a publish, and every poll interval.")
                   .with({})) {}

  Executor executor;
  store::Database& db;
  BlockingPool& pool;
  metrics::Registry& registry;
  DispatcherSettings settings;
  std::vector<std::unique_ptr<Running>> consumers;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  // The wake-up probe: after a publish, one read of the new events' topics wakes only the
  // consumers that follow one of them, instead of every consumer reading the outbox itself.
  std::atomic<bool> probe_running{false};
  std::atomic<bool> probe_again{false};
  // Outbox events up to here were looked at by the probe (-1 before its first read). Written by
  // the probe only; consumers at rest read it.
  std::atomic<std::int64_t> probed_head{-1};
  // The poll: every poll_interval, the probe looks for events no wake() announced.
  asio::strand<asio::any_io_executor> poll_strand;
  asio::steady_timer poll_timer;
  metrics::Counter& probes;
  // stop() waits on this for the last consumer loop to end, instead of polling.
  std::mutex idle_mutex;
  std::condition_variable idle_cv;

  // A consumer loop ends; the last one wakes stop().
  void leave() {
    std::lock_guard lock(idle_mutex);
    if (--active == 0) idle_cv.notify_all();
  }

  std::chrono::milliseconds backoff(int attempt) const {
    thread_local std::mt19937 rng{std::random_device{}()};
    const auto base = settings.backoff_base.count() << std::min(attempt, 16);
    const auto capped = std::min<long long>(base, settings.backoff_max.count());
    std::uniform_int_distribution<long long> jitter(capped / 2, std::max<long long>(capped, 1));
    return std::chrono::milliseconds(jitter(rng));
  }

  Task<void> sleep(Running& c, std::chrono::milliseconds d) {
    c.timer.expires_after(d);
    co_await c.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  /// A caught-up consumer waits for a wake. Every consumer_poll it reads anyway, unless nothing
  /// was committed after its last read (the probe, which looks every poll_interval, has not seen
  /// past `head`) and its offset is stored: that read would find nothing and pass nothing. An
  /// idle server's consumers then cost no statement; the probe's one read covers them all.
  Task<void> rest(Running& c, std::uint64_t wake_mark, std::int64_t head, bool stored) {
    while (!stopping && c.wakes.load() == wake_mark) {
      co_await sleep(c, settings.consumer_poll);
      const auto probed = probed_head.load();
      if (!stored || probed < 0 || probed > head) co_return;
    }
  }

  /// What one read gives a consumer.
  struct ReadBatch {
    std::vector<Event> events;  ///< its events, less those its interest dropped
    std::int64_t head = 0;      ///< the outbox head the read went up to
    std::int64_t through = 0;   ///< every event up to here is in `events` or not the consumer's
    bool caught_up = false;     ///< through is the head
  };

  /// A consumer with an interest reads the heads of this many batches at a time.
  static constexpr std::size_t kHeadsPerBatch = 10;

  /// Batches that applied nothing after which the offset is stored anyway.
  static constexpr int kStoreOffsetEvery = 20;

  static void wake(Running& c) {
    ++c.wakes;
    auto* running = &c;
    asio::post(running->strand, [running] { running->timer.cancel(); });
  }

  void wake_all() {
    for (auto& c : consumers) wake(*c);
  }

  /// Dispatcher::wake: the probe reads what was published and wakes those who follow it.
  void wake_dispatcher() {
    if (stopping) return;
    probe_again = true;
    if (probe_running.exchange(true)) return;  // the running probe reads again
    ++active;
    asio::co_spawn(executor, probe(), LoggedDetached("bus.probe"));
  }

  /// The topics of the outbox events after `after` (at most kProbeLimit of them) and the last
  /// event's id; nullopt when there were more.
  struct Probe {
    std::vector<std::string> topics;
    std::int64_t head = 0;
    bool complete = true;
  };
  static constexpr std::int64_t kProbeLimit = 1000;

  Task<void> probe() {
    auto self = shared_from_this();
    for (;;) {
      probe_again = false;
      try {
        const auto after = probed_head.load();
        auto found = co_await pool.run([&] {
          return db.read([&](store::Tx& tx) {
            Probe out;
            if (after < 0) {
              out.head = outbox_head(tx);
              out.complete = false;  // where this process started: every consumer looks
              return out;
            }
            out.head = after;
            const auto rows =
                tx.query("SELECT id, topic FROM bus_outbox WHERE id > $1 ORDER BY id LIMIT $2", {after, kProbeLimit});
            for (const auto& row : rows) {
              out.head = row.get_int(0);
              out.topics.push_back(row.get_text(1));
            }
            out.complete = static_cast<std::int64_t>(rows.size()) < kProbeLimit;
            return out;
          });
        });
        probed_head = found.head;
        probes.inc();
        for (auto& c : consumers) {
          const bool follows = !found.complete ||
                               std::any_of(found.topics.begin(), found.topics.end(),
                                           [&](const std::string& t) { return topic_matches(c->consumer.topics, t); });
          if (follows) wake(*c);
        }
      } catch (const std::exception& e) {
        // The database or the pool is busy: wake everyone, as without the probe.
        log::warn("bus wake-up probe failed", {{"error", e.what()}});
        wake_all();
      }
      probe_running = false;
      // A wake that came during the read probes again; otherwise the probe ends.
      if (stopping || !probe_again.load() || probe_running.exchange(true)) break;
    }
    leave();  // counted by Dispatcher::wake, so that stop() waits for the probe too
  }

  /// Runs the probe every poll_interval: one read for every consumer, instead of each reading
  /// the outbox in turn.
  Task<void> poll() {
    auto self = shared_from_this();
    while (!stopping) {
      poll_timer.expires_after(settings.poll_interval);
      co_await poll_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!stopping) wake_dispatcher();
    }
    leave();
  }

  Task<void> run(Running& c) {
    auto self = shared_from_this();
    ++active;
    std::int64_t offset = -1;
    std::int64_t persisted = -1;  // the offset as stored
    int unstored_batches = 0;
    auto stored_at = std::chrono::steady_clock::now();
    while (!stopping) {
      try {
        if (offset < 0) {
          offset = co_await pool.run(
              [&] { return db.read([&](store::Tx& tx) { return consumer_offset(tx, c.consumer.name); }); });
          persisted = offset;
          unstored_batches = 0;
        }
        const auto wake_mark = c.wakes.load();
        // No structured bindings in coroutines: GCC 12 miscompiles them.
        // This consumer's events and the head in one statement: the events up to the head that
        // the read does not return are none of this consumer's, and its offset may pass them.
        auto batch = co_await pool.run([&] {
          return db.read([&](store::Tx& tx) {
            ReadBatch out;
            if (!c.consumer.interest) {
              auto found = read_outbox_matching(tx, offset, c.consumer.topics, settings.batch_size);
              out.head = found.head;
              out.events = std::move(found.events);
              out.caught_up = out.events.size() < settings.batch_size;
              out.through = out.caught_up ? out.head : out.events.back().id;
              return out;
            }
            // With an interest, the heads of more events at once; payloads only for those kept.
            const auto limit = settings.batch_size * kHeadsPerBatch;
            auto found = read_outbox_heads_matching(tx, offset, c.consumer.topics, limit);
            out.head = found.head;
            out.events = std::move(found.events);
            out.caught_up = out.events.size() < limit;
            out.through = out.caught_up ? out.head : out.events.back().id;
            if (!out.events.empty()) c.consumer.interest(tx, out.events);
            if (out.events.size() > settings.batch_size) {
              out.events.resize(settings.batch_size);  // the rest comes with the next read
              out.caught_up = false;
              out.through = out.events.back().id;
            }
            read_payloads(tx, out.events);
            return out;
          });
        });
        c.reads->inc();
        auto& events = batch.events;
        // What it has yet to handle: its events read, or nothing when the read passed only others'.
        c.lag->set(static_cast<double>(
            std::max<std::int64_t>(0, batch.head - (batch.events.empty() ? std::max(offset, batch.through) : offset))));
        // Every event up to `through` is read or not this consumer's.
        const bool caught_up = batch.caught_up;
        const std::int64_t through = batch.through;
        if (events.empty()) {
          // Nothing to apply up to `through`. The offset moves on in memory and is stored every
          // few batches or, once caught up, every idle_offset_store: an offset stored late only
          // re-reads events that the consumer leaves alone.
          if (through > offset) offset = through;
          const auto now = std::chrono::steady_clock::now();
          if (offset > persisted && (++unstored_batches >= kStoreOffsetEvery ||
                                     (caught_up && now - stored_at >= settings.idle_offset_store))) {
            const auto at = offset;
            co_await pool.run([&] { advance(db, c.consumer.name, at); });
            persisted = at;
            unstored_batches = 0;
            stored_at = now;
          }
          // Past the head and the offset both: an outbox emptied by retention reads a head of 0.
          if (caught_up) co_await rest(c, wake_mark, std::max(batch.head, offset), offset == persisted);
          continue;
        }
        // The whole batch in one transaction first; only when an event of it fails (the batch
        // rolled back) one event at a time, with retries and the dead-letter table.
        bool batched = false;
        try {
          const auto applied = co_await pool.run([&] { return apply_events(db, c.consumer, events, through); });
          batched = true;
          // What the consumer published is for the others (and maybe itself) to hear now.
          if (applied.published) wake_dispatcher();
          if (c.consumer.committed) c.consumer.committed();
          c.delivered->inc(static_cast<double>(applied.fresh));
          const auto applied_ms = now_ms();
          for (const auto& event : events) {
            c.latency->observe(static_cast<double>(applied_ms - event.created_ms) / 1000.0);
          }
          offset = through;
          persisted = through;
          unstored_batches = 0;
          c.lag->set(static_cast<double>(batch.head - through));
        } catch (const std::exception& e) {
          log::info("bus batch failed; delivering its events one by one",
                    {{"consumer", c.consumer.name}, {"events", events.size()}, {"error", e.what()}});
        }
        if (batched) {
          // Caught up, and nothing new announced since the read: no need to read again before the
          // next wake or poll.
          if (caught_up) co_await rest(c, wake_mark, std::max(batch.head, offset), true);
          continue;
        }
        // Every event read is this consumer's (read_outbox_matching filtered them).
        for (const auto& event : events) {
          if (stopping) break;
          for (int attempt = 1;; ++attempt) {
            std::string failure;
            try {
              const bool fresh = co_await pool.run([&] { return apply_once(db, c.consumer, event); });
              if (fresh && c.consumer.committed) c.consumer.committed();
              if (fresh) {
                c.delivered->inc();
                c.latency->observe(static_cast<double>(now_ms() - event.created_ms) / 1000.0);
              }
              break;
            } catch (const std::exception& e) {
              failure = e.what();
            }
            c.failures->inc();
            if (attempt >= settings.max_attempts) {
              log::error("event dead-lettered", {{"consumer", c.consumer.name},
                                                 {"event_id", event.event_id},
                                                 {"topic", event.topic},
                                                 {"attempts", attempt},
                                                 {"error", failure}});
              co_await pool.run([&] { dead_letter(db, c.consumer, event, attempt, failure); });
              c.dead->inc();
              break;
            }
            log::warn("event failed; retrying", {{"consumer", c.consumer.name},
                                                 {"event_id", event.event_id},
                                                 {"attempt", attempt},
                                                 {"error", failure}});
            if (stopping) {
              leave();
              co_return;
            }
            co_await sleep(c, backoff(attempt));
          }
          offset = event.id;
          persisted = event.id;
        }
        if (through > offset && !stopping) {
          co_await pool.run([&] { advance(db, c.consumer.name, through); });
          offset = through;
          persisted = through;
        }
        unstored_batches = 0;
      } catch (const std::exception& e) {
        // The database is unreachable or the pool full: wait and re-read from the stored offset.
        log::warn("bus consumer paused", {{"consumer", c.consumer.name}, {"error", e.what()}});
        offset = -1;
      }
      if (offset < 0 && !stopping) co_await sleep(c, settings.poll_interval * 5);
    }
    leave();
  }
};

Dispatcher::Dispatcher(Executor executor, store::Database& db, BlockingPool& pool, metrics::Registry& registry,
                       DispatcherSettings settings)
    : m_impl(std::make_shared<Impl>(std::move(executor), db, pool, registry, settings)) {}

Dispatcher::~Dispatcher() {
  stop(std::chrono::milliseconds(2000));
}

void Dispatcher::add(Consumer consumer) {
  auto& reg = m_impl->registry;
  auto running = std::make_unique<Impl::Running>(std::move(consumer), m_impl->executor);
  const std::vector<std::string> label{running->consumer.name};
  running->delivered =
      &reg.counter("gatehouse_bus_events_delivered_total", "Events applied by a consumer.", {"consumer"}).with(label);
  running->reads =
      &reg.counter("gatehouse_bus_reads_total",
                   "Outbox reads by a consumer: woken, after a full batch, or polling behind the wake-ups.",
                   {"consumer"})
           .with(label);
  running->failures =
      &reg.counter("gatehouse_bus_event_failures_total", "Failed attempts to apply an event.", {"consumer"})
           .with(label);
  running->dead =
      &reg.counter("gatehouse_bus_dead_letters_total", "Events a consumer gave up on.", {"consumer"}).with(label);
  running->lag =
      &reg.gauge("gatehouse_bus_consumer_lag_events", "Outbox events not yet seen by a consumer.", {"consumer"})
           .with(label);
  running->latency = &reg.histogram("gatehouse_bus_delivery_seconds", "Time from publish to applied.", {"consumer"},
                                    metrics::latency_buckets())
                          .with(label);
  m_impl->consumers.push_back(std::move(running));
}

void Dispatcher::start() {
  ++m_impl->active;
  asio::co_spawn(m_impl->poll_strand, m_impl->poll(), LoggedDetached("bus.poll"));
  for (auto& c : m_impl->consumers) {
    asio::co_spawn(c->strand, m_impl->run(*c), LoggedDetached("bus.consumer"));
  }
}

void Dispatcher::wake() {
  m_impl->wake_dispatcher();
}

void Dispatcher::stop(std::chrono::milliseconds timeout) {
  if (m_impl->stopping.exchange(true)) return;
  m_impl->wake_all();
  asio::post(m_impl->poll_strand, [impl = m_impl] { impl->poll_timer.cancel(); });
  std::unique_lock lock(m_impl->idle_mutex);
  m_impl->idle_cv.wait_for(lock, timeout, [this] { return m_impl->active.load() == 0; });
}

void Dispatcher::drain_once() {
  for (auto& c : m_impl->consumers) {
    for (;;) {
      const auto offset = m_impl->db.read([&](store::Tx& tx) { return consumer_offset(tx, c->consumer.name); });
      const auto events =
          m_impl->db.read([&](store::Tx& tx) { return read_outbox(tx, offset, m_impl->settings.batch_size); });
      if (events.empty()) break;
      for (const auto& e : events) {
        if (topic_matches(c->consumer.topics, e.topic)) {
          if (apply_once(m_impl->db, c->consumer, e) && c->consumer.committed) c->consumer.committed();
        } else {
          advance(m_impl->db, c->consumer.name, e.id);
        }
      }
    }
  }
}

}  // namespace gh::bus
