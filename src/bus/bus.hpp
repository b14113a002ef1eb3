#pragma once
// The event bus (DESIGN.md §5). publish() writes an event to the outbox inside the caller's
// transaction, so the event exists exactly when the change it announces does. The Dispatcher
// delivers outbox events to registered consumers at least once, in outbox order (so in order per
// ordering key); each consumer applies an event in one transaction together with its idempotency
// record and its offset, so a redelivered event is skipped and the effect happens once.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/blocking_pool.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "store/database.hpp"

namespace gh::bus {

/// An event to publish. `topic` is `context.event` (e.g. "community.member_joined"); events with
/// the same `ordering_key` (a channel id, a community id, an account) are delivered in order.
struct NewEvent {
  std::string topic;
  std::string ordering_key;
  std::string payload;  ///< a JSON object, serialized
};

/// An event as stored and delivered.
struct Event {
  std::int64_t id = 0;  ///< outbox position
  std::string event_id;
  std::string topic;
  std::string ordering_key;
  std::string payload;
  std::int64_t created_ms = 0;
};

/// Limits of events, checked by publish().
inline constexpr std::size_t max_payload_bytes = std::size_t{64} * 1024;

/// Writes the event to the outbox in `tx` and returns its event id. Errors on a malformed topic or
/// an oversized payload (nothing is written).
Result<std::string> publish(store::Tx& tx, const NewEvent& event);

/// An event that passed publish()'s checks (topic, ordering key, payload size, payload a JSON
/// object). Checking parses the payload; a producer writing many events at once checks them before
/// its transaction, so that the writer spends its time on the rows alone.
class CheckedEvent {
 public:
  const NewEvent& event() const noexcept { return m_event; }

 private:
  friend Result<CheckedEvent> check(NewEvent event);
  explicit CheckedEvent(NewEvent event) : m_event(std::move(event)) {}
  NewEvent m_event;
};

/// The event, checked as publish() checks it (the same errors).
Result<CheckedEvent> check(NewEvent event);

/// Writes the events to the outbox in `tx`, in order (their outbox positions follow the vector),
/// and returns their event ids in the same order: what publish() does for each, with the
/// PostgreSQL outbox lock taken once and the rows inserted in multi-row statements. Checks every
/// event first: one invalid event is an error and nothing is written.
Result<std::vector<std::string>> publish_many(store::Tx& tx, const std::vector<NewEvent>& events);

/// publish_many of events checked beforehand (nothing left to refuse).
std::vector<std::string> publish_checked(store::Tx& tx, std::span<const CheckedEvent* const> events);

/// What a consumer does with one event, inside the transaction that records it as processed.
/// Throwing rolls the transaction back and the event is retried.
using ApplyFn = std::function<void(store::Tx& tx, const Event& event)>;

/// Keeps, in place, the events of a read batch that a consumer may act on. It runs inside the
/// transaction that read them, so it sees the database as of that read. The events carry their
/// id, topic, ordering key and time; their event ids and payloads are read after, for those kept.
using InterestFn = std::function<void(store::Tx& tx, std::vector<Event>& events)>;

/// A named consumer of some topics. The name is its durable identity (offset, dedup records).
struct Consumer {
  std::string name;
  std::vector<std::string> topics;  ///< exact topics, or "context.*" for a whole context
  ApplyFn apply;
  /// Optional: drops the events `apply` would leave untouched, before any write. A dropped event
  /// is passed by the offset with no apply and no idempotency record, so it must be one that
  /// `apply` would ignore in any transaction after the read (whatever later makes such events
  /// matter must account for the ones already passed, as a new gate re-evaluates everyone).
  InterestFn interest{};
  /// Optional: called once a transaction that applied events of this consumer has committed,
  /// off the consumer's transaction: the wake of work that reads what `apply` wrote (a wake from
  /// inside `apply` may be read before the commit, and find nothing).
  std::function<void()> committed{};
};

/// True when `topic` matches one of the patterns.
bool topic_matches(const std::vector<std::string>& patterns, std::string_view topic);

/// How the dispatcher runs.
struct DispatcherSettings {
  std::size_t batch_size = 100;
  /// How often one read (the wake-up probe) looks for events that no wake() announced: those of
  /// other processes. It wakes the consumers that follow them.
  std::chrono::milliseconds poll_interval{200};
  int max_attempts = 8;  ///< then the event goes to bus_dead_letters
  std::chrono::milliseconds backoff_base{50};
  std::chrono::milliseconds backoff_max{5'000};
  /// An offset that moved only past other consumers' events is stored at most this often (and
  /// every 20 such batches): each publish wakes every consumer, and one write per consumer per
  /// event would cost more than the event. Storing late only means re-reading events that the
  /// consumer passes over again.
  std::chrono::milliseconds idle_offset_store{1'000};
  /// A consumer with nothing to do reads again at least this often, woken or not: behind the
  /// wake-ups, and so that an offset passing other consumers' events is stored (retention waits
  /// for every offset).
  std::chrono::milliseconds consumer_poll{5'000};
};

/// Delivers outbox events to consumers, one coroutine per consumer.
class Dispatcher {
 public:
  Dispatcher(Executor executor, store::Database& db, BlockingPool& pool, metrics::Registry& registry,
             DispatcherSettings settings = {});
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Registers a consumer (before start()).
  void add(Consumer consumer);
  /// Starts delivering.
  void start();
  /// Wakes the consumers now instead of at the next poll (call after committing events).
  void wake();
  /// Stops after the event being applied; waits up to `timeout`. Blocks the calling thread.
  void stop(std::chrono::milliseconds timeout);

  /// Delivers everything pending for every consumer once, synchronously (tests, jobs).
  void drain_once();

 private:
  struct Impl;
  std::shared_ptr<Impl> m_impl;
};

/// Applies one event for one consumer in its own transaction, unless already applied: the unit
/// of work of the dispatcher, exposed for tests. Returns false when the event was a duplicate.
bool apply_once(store::Database& db, const Consumer& consumer, const Event& event);

/// apply_once for consecutive outbox events (in outbox order; those of topics the consumer does
/// not follow are passed over) in one transaction: each fresh event's effect with its processed
/// record, and the offset moved once, to the last event or to `through` when that is later (the
/// events between are none of the consumer's). Returns how many were fresh. Throws what
/// an event's apply throws, and then nothing of the batch stays: the caller goes back to one event
/// at a time to find it.
std::size_t apply_batch(store::Database& db, const Consumer& consumer, std::span<const Event> events,
                        std::int64_t through = 0);

/// Reads up to `limit` outbox events after `after_id`, in order.
std::vector<Event> read_outbox(store::Tx& tx, std::int64_t after_id, std::size_t limit);

/// What one read of a consumer's events gives.
struct OutboxRead {
  std::vector<Event> events;  ///< in outbox order
  std::int64_t head = 0;      ///< the highest outbox id as of the same read (0 when empty)
};

/// Up to `limit` outbox events after `after_id` whose topic matches `patterns` (see
/// topic_matches), filtered by the database (a consumer reads only its own events' payloads), and
/// the outbox head, in one statement: when fewer than `limit` came, they are all of the consumer's
/// events up to the head, and its offset may pass the head.
OutboxRead read_outbox_matching(store::Tx& tx, std::int64_t after_id, const std::vector<std::string>& patterns,
                                std::size_t limit);

/// read_outbox_matching without the event ids and payloads (left empty): what a consumer's
/// interest looks at. read_payloads fills in those of the events kept.
OutboxRead read_outbox_heads_matching(store::Tx& tx, std::int64_t after_id, const std::vector<std::string>& patterns,
                                      std::size_t limit);
void read_payloads(store::Tx& tx, std::vector<Event>& events);

/// The highest outbox id (0 when empty). Every event up to it is committed: publishers hold the
/// outbox lock from their first event to their commit (PostgreSQL), or there is one writer (SQLite).
std::int64_t outbox_head(store::Tx& tx);

/// The consumer's offset (0 when new).
std::int64_t consumer_offset(store::Tx& tx, std::string_view consumer);

/// Retention: deletes up to `limit` idempotency records (bus_processed) written before
/// `cutoff_ms`; returns how many. Safe at any age: a consumer records an event in the transaction
/// that moves its offset past it, and skips anything at or below its offset before looking here.
std::int64_t purge_processed(store::Tx& tx, std::int64_t cutoff_ms, std::size_t limit);

/// Retention: deletes up to `limit` outbox events created before `cutoff_ms` that every consumer
/// has passed, and returns how many. Every consumer means each of `consumers` (the names this
/// binary registers; one without an offset yet holds back everything) and each offset row in the
/// database (consumers of other nodes and versions). An event named by a dead letter is kept for
/// its replay. Offsets stay valid: ids are never reused (AUTOINCREMENT, a sequence), so a
/// consumer reading after its offset finds exactly the events it has not seen.
std::int64_t purge_delivered_outbox(store::Tx& tx, std::int64_t cutoff_ms, const std::vector<std::string>& consumers,
                                    std::size_t limit);

}  // namespace gh::bus
