#include "chain/store.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "eth/hex.hpp"

namespace gh::chain::storage {
namespace {

using gh::store::Row;
using gh::store::Value;

std::int64_t i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
std::uint64_t u64(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

PipelineRow to_pipeline(const Row& r) {
  PipelineRow p;
  p.chain_id = u64(r.get_int("chain_id"));
  p.pipeline = r.get_text("pipeline");
  p.checkpoint = r.get_int("checkpoint");
  p.logs_applied = r.get_int("logs_applied");
  p.last_error = r.opt_text("last_error");
  p.error_count = r.get_int("error_count");
  p.updated_ms = r.get_int("updated_ms");
  p.start_block = r.opt_int("start_block");
  return p;
}

ChainRow to_chain(const Row& r) {
  return ChainRow{u64(r.get_int("chain_id")), u64(r.get_int("head")), u64(r.get_int("head_time")), r.get_int("reorgs"),
                  r.get_int("updated_ms")};
}

StoredBlock to_block(const Row& r) {
  return StoredBlock{u64(r.get_int("block_number")), r.get_text("block_hash"), r.get_text("parent_hash"),
                     u64(r.get_int("block_time"))};
}

constexpr const char* pipeline_columns =
    "chain_id, pipeline, checkpoint, logs_applied, last_error, error_count, updated_ms, start_block";
constexpr const char* block_columns = "block_number, block_hash, parent_hash, block_time";

// The SQL of one projection: its table, key columns and value column.
struct ProjectionSql {
  const char* table;
  const char* key1;
  const char* key2;  ///< nullptr when the projection has one key besides the contract
  const char* value;
};

ProjectionSql sql_of(Projection p) {
  switch (p) {
    case Projection::erc20_balance:
      return {"chain_erc20_balances", "holder", nullptr, "amount"};
    case Projection::erc721_owner:
      return {"chain_erc721_owners", "token_id", nullptr, "owner"};
    case Projection::erc1155_balance:
      return {"chain_erc1155_balances", "token_id", "holder", "amount"};
    case Projection::stake:
      return {"chain_stakes", "staker", nullptr, "amount"};
    case Projection::pair_tokens:
      return {"chain_v2_pair_tokens", nullptr, nullptr, "tokens"};
    case Projection::pair_reserves:
      return {"chain_v2_pair_reserves", nullptr, nullptr, "reserves"};
  }
  return {"", "", nullptr, ""};
}

std::string key_where(const ProjectionSql& s) {
  std::string w = "chain_id = $1 AND contract = $2";
  if (s.key1 != nullptr) w += std::string(" AND ") + s.key1 + " = $3";
  if (s.key2 != nullptr) w += std::string(" AND ") + s.key2 + " = $4";
  return w;
}

// The key parameters of a projection row: chain, contract, then its own keys.
std::vector<Value> key_params(const ProjectionSql& s, std::uint64_t chain_id, const ProjectionChange& key) {
  std::vector<Value> params{i64(chain_id), key.contract};
  if (s.key1 != nullptr) params.emplace_back(key.key1);
  if (s.key2 != nullptr) params.emplace_back(key.key2);
  return params;
}

// Filters on a pipeline when one is given: ($N = '' OR pipeline = $N).
Value pipeline_param(std::optional<Pipeline> pipeline) {
  return pipeline ? Value(std::string(to_string(*pipeline))) : Value(std::string());
}

// Rows per multi-row statement of the batch functions: a few hundred keeps every statement far
// below both dialects' parameter limits (SQLite 32,766; PostgreSQL 65,535) and its SQL short.
constexpr std::size_t batch_rows = 200;

// "($first, $first+1, ..., $first+count-1)" appended to `sql`.
void append_tuple(std::string& sql, std::size_t first, std::size_t count) {
  sql += '(';
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) sql += ", ";
    sql += '$';
    sql += std::to_string(first + i);
  }
  sql += ')';
}

// Whether the batch writes below use multi-row statements: on PostgreSQL each statement is a round
// trip, and one per few hundred rows is what makes a range fast; SQLite runs in process, where a
// multi-row VALUES list costs more than the same rows through one cached single-row statement
// (measured on upserts of the projections), so there the batch functions write row by row.
bool multi_row_writes(const Tx& tx) {
  return tx.dialect() == gh::store::Dialect::postgres;
}

// Calls f(begin, end) for consecutive slices of at most batch_rows of [0, n).
template <class F>
void in_batches(std::size_t n, F&& f) {
  for (std::size_t begin = 0; begin < n; begin += batch_rows) f(begin, std::min(n, begin + batch_rows));
}

}  // namespace

namespace {

gh::store::Value start_value(std::optional<std::uint64_t> start_block) {
  if (start_block) return i64(*start_block);
  return nullptr;
}

}  // namespace

PipelineRow ensure_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::optional<std::uint64_t> start_block,
                            std::int64_t now_ms) {
  const auto checkpoint = (start_block ? i64(*start_block) : 0) - 1;
  // The update takes the row only when the configured start moved (an upsert that writes nothing
  // on every round).
  tx.exec(std::string("INSERT INTO chain_pipelines (chain_id, pipeline, checkpoint, logs_applied, last_error, "
                      "error_count, updated_ms, start_block) VALUES ($1, $2, $3, 0, NULL, 0, $4, $5) ") +
              (start_block ? "ON CONFLICT (chain_id, pipeline) DO UPDATE SET start_block = excluded.start_block "
                             "WHERE chain_pipelines.start_block IS NULL OR chain_pipelines.start_block <> "
                             "excluded.start_block"
                           : "ON CONFLICT (chain_id, pipeline) DO NOTHING"),
          {i64(chain_id), std::string(to_string(pipeline)), checkpoint, now_ms, start_value(start_block)});
  return *pipeline_row(tx, chain_id, pipeline);
}

std::optional<PipelineRow> pipeline_row(Tx& tx, std::uint64_t chain_id, Pipeline pipeline) {
  auto row = tx.query_one(
      std::string("SELECT ") + pipeline_columns + " FROM chain_pipelines WHERE chain_id = $1 AND pipeline = $2",
      {i64(chain_id), std::string(to_string(pipeline))});
  if (!row) return std::nullopt;
  return to_pipeline(*row);
}

std::vector<PipelineRow> pipeline_rows(Tx& tx, std::optional<std::uint64_t> chain_id) {
  auto rows = tx.query(std::string("SELECT ") + pipeline_columns +
                           " FROM chain_pipelines WHERE ($1 < 0 OR chain_id = $1) ORDER BY chain_id, pipeline",
                       {chain_id ? i64(*chain_id) : std::int64_t{-1}});
  std::vector<PipelineRow> out;
  for (const auto& r : rows) out.push_back(to_pipeline(r));
  return out;
}

void advance_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t checkpoint, std::int64_t applied,
                      std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_pipelines SET checkpoint = $3, logs_applied = logs_applied + $4, last_error = NULL, error_count = "
      "0, "
      "updated_ms = $5 WHERE chain_id = $1 AND pipeline = $2",
      {i64(chain_id), std::string(to_string(pipeline)), checkpoint, applied, now_ms});
}

void record_pipeline_error(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& error,
                           std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_pipelines SET last_error = $3, error_count = error_count + 1, updated_ms = $4 "
      "WHERE chain_id = $1 AND pipeline = $2",
      {i64(chain_id), std::string(to_string(pipeline)), error, now_ms});
}

void rewind_pipelines(Tx& tx, std::uint64_t chain_id, std::int64_t block, std::int64_t now_ms) {
  tx.exec("UPDATE chain_pipelines SET checkpoint = $2, updated_ms = $3 WHERE chain_id = $1 AND checkpoint > $2",
          {i64(chain_id), block, now_ms});
}

void rewind_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t block, std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_pipelines SET checkpoint = $3, updated_ms = $4 WHERE chain_id = $1 AND pipeline = $2 AND "
      "checkpoint > $3",
      {i64(chain_id), std::string(to_string(pipeline)), block, now_ms});
}

std::optional<ChainRow> chain_row(Tx& tx, std::uint64_t chain_id) {
  auto row = tx.query_one("SELECT chain_id, head, head_time, reorgs, updated_ms FROM chain_state WHERE chain_id = $1",
                          {i64(chain_id)});
  if (!row) return std::nullopt;
  return to_chain(*row);
}

std::vector<ChainRow> chain_rows(Tx& tx) {
  std::vector<ChainRow> out;
  for (const auto& r :
       tx.query("SELECT chain_id, head, head_time, reorgs, updated_ms FROM chain_state ORDER BY chain_id")) {
    out.push_back(to_chain(r));
  }
  return out;
}

void set_head(Tx& tx, std::uint64_t chain_id, std::uint64_t head, std::uint64_t head_time, std::int64_t now_ms) {
  tx.exec(
      "INSERT INTO chain_state (chain_id, head, head_time, reorgs, updated_ms) VALUES ($1, $2, $3, 0, $4) "
      "ON CONFLICT (chain_id) DO UPDATE SET head = $2, head_time = $3, updated_ms = $4",
      {i64(chain_id), i64(head), i64(head_time), now_ms});
}

void count_reorg(Tx& tx, std::uint64_t chain_id, std::int64_t now_ms) {
  tx.exec(
      "INSERT INTO chain_state (chain_id, head, head_time, reorgs, updated_ms) VALUES ($1, 0, 0, 1, $2) "
      "ON CONFLICT (chain_id) DO UPDATE SET reorgs = chain_state.reorgs + 1, updated_ms = $2",
      {i64(chain_id), now_ms});
}

void put_blocks(Tx& tx, std::uint64_t chain_id, const std::vector<StoredBlock>& blocks) {
  for (const auto& b : blocks) {
    tx.exec(
        "INSERT INTO chain_blocks (chain_id, block_number, block_hash, parent_hash, block_time) VALUES ($1, $2, $3, "
        "$4, $5) "
        "ON CONFLICT (chain_id, block_number) DO UPDATE SET block_hash = $3, parent_hash = $4, block_time = $5",
        {i64(chain_id), i64(b.number), b.hash, b.parent_hash, i64(b.time)});
  }
}

std::optional<StoredBlock> top_block(Tx& tx, std::uint64_t chain_id) {
  auto row = tx.query_one(std::string("SELECT ") + block_columns +
                              " FROM chain_blocks WHERE chain_id = $1 ORDER BY block_number DESC LIMIT 1",
                          {i64(chain_id)});
  if (!row) return std::nullopt;
  return to_block(*row);
}

std::optional<StoredBlock> block_at(Tx& tx, std::uint64_t chain_id, std::uint64_t number) {
  auto row = tx.query_one(
      std::string("SELECT ") + block_columns + " FROM chain_blocks WHERE chain_id = $1 AND block_number = $2",
      {i64(chain_id), i64(number)});
  if (!row) return std::nullopt;
  return to_block(*row);
}

std::vector<StoredBlock> blocks_from(Tx& tx, std::uint64_t chain_id, std::uint64_t from) {
  std::vector<StoredBlock> out;
  for (const auto& r :
       tx.query(std::string("SELECT ") + block_columns +
                    " FROM chain_blocks WHERE chain_id = $1 AND block_number >= $2 ORDER BY block_number",
                {i64(chain_id), i64(from)})) {
    out.push_back(to_block(r));
  }
  return out;
}

void delete_blocks_above(Tx& tx, std::uint64_t chain_id, std::uint64_t number) {
  tx.exec("DELETE FROM chain_blocks WHERE chain_id = $1 AND block_number > $2", {i64(chain_id), i64(number)});
}

void prune_below(Tx& tx, std::uint64_t chain_id, std::uint64_t number) {
  tx.exec("DELETE FROM chain_blocks WHERE chain_id = $1 AND block_number < $2", {i64(chain_id), i64(number)});
  tx.exec("DELETE FROM chain_logs WHERE chain_id = $1 AND block_number < $2", {i64(chain_id), i64(number)});
  tx.exec("DELETE FROM chain_journal WHERE chain_id = $1 AND block_number < $2", {i64(chain_id), i64(number)});
  tx.exec("DELETE FROM chain_pending_logs WHERE chain_id = $1 AND block_number < $2", {i64(chain_id), i64(number)});
}

bool insert_pending(Tx& tx, std::uint64_t chain_id, const rpc::Log& log, std::int64_t now_ms) {
  std::string topics;
  for (const auto& t : log.topics) {
    if (!topics.empty()) topics += ",";
    topics += hash_hex(t);
  }
  return tx.exec(
             "INSERT INTO chain_pending_logs (chain_id, block_hash, log_index, block_number, contract, topics, data, "
             "txn_hash, txn_index, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
             "ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING",
             {i64(chain_id), hash_hex(log.block_hash), i64(log.log_index), i64(log.block_number),
              eth::to_lower_hex(log.address), topics, eth::to_hex(log.data), hash_hex(log.transaction_hash),
              i64(log.transaction_index), now_ms}) > 0;
}

std::vector<rpc::Log> pending_in_range(Tx& tx, std::uint64_t chain_id, std::uint64_t from, std::uint64_t to) {
  std::vector<rpc::Log> out;
  for (const auto& r :
       tx.query("SELECT block_hash, log_index, block_number, contract, topics, data, txn_hash, txn_index FROM "
                "chain_pending_logs "
                "WHERE chain_id = $1 AND block_number >= $2 AND block_number <= $3 ORDER BY block_number, log_index",
                {i64(chain_id), i64(from), i64(to)})) {
    // Written by insert_pending from parsed values: they parse back.
    rpc::Log l;
    l.block_hash = eth::fixed_from_hex<32>(r.get_text(0)).value();
    l.log_index = u64(r.get_int(1));
    l.block_number = u64(r.get_int(2));
    l.address = eth::parse_address(r.get_text(3)).value();
    const auto topics = r.get_text(4);
    std::size_t start = 0;
    while (start < topics.size()) {
      auto comma = topics.find(',', start);
      if (comma == std::string::npos) comma = topics.size();
      l.topics.push_back(eth::fixed_from_hex<32>(std::string_view(topics).substr(start, comma - start)).value());
      start = comma + 1;
    }
    l.data = eth::from_hex(r.get_text(5)).value();
    l.transaction_hash = eth::fixed_from_hex<32>(r.get_text(6)).value();
    l.transaction_index = u64(r.get_int(7));
    out.push_back(std::move(l));
  }
  return out;
}

bool insert_log(Tx& tx, std::uint64_t chain_id, const DecodedLog& log) {
  const auto& l = log.log;
  const std::string topic = l.topics.empty() ? std::string() : hash_hex(l.topics[0]);
  return tx.exec(
             "INSERT INTO chain_logs (chain_id, block_hash, log_index, block_number, pipeline, txn_hash, topic, "
             "contract) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING",
             {i64(chain_id), hash_hex(l.block_hash), i64(l.log_index), i64(l.block_number),
              std::string(to_string(log.pipeline)), hash_hex(l.transaction_hash), topic,
              eth::to_lower_hex(l.address)}) > 0;
}

std::vector<bool> insert_logs(Tx& tx, std::uint64_t chain_id, const std::vector<const DecodedLog*>& logs) {
  std::vector<bool> fresh(logs.size(), false);
  if (!multi_row_writes(tx)) {
    for (std::size_t i = 0; i < logs.size(); ++i) fresh[i] = insert_log(tx, chain_id, *logs[i]);
    return fresh;
  }
  // The first position of each key: a key twice in one statement would conflict within it.
  std::map<std::pair<std::string, std::uint64_t>, std::size_t> first;
  std::vector<std::size_t> distinct;
  distinct.reserve(logs.size());
  for (std::size_t i = 0; i < logs.size(); ++i) {
    if (first.emplace(std::pair{hash_hex(logs[i]->log.block_hash), logs[i]->log.log_index}, i).second) {
      distinct.push_back(i);
    }
  }
  in_batches(distinct.size(), [&](std::size_t begin, std::size_t end) {
    std::string sql =
        "INSERT INTO chain_logs (chain_id, block_hash, log_index, block_number, pipeline, txn_hash, topic, contract) "
        "VALUES ";
    std::vector<Value> params;
    params.reserve((end - begin) * 8);
    for (std::size_t i = begin; i < end; ++i) {
      const DecodedLog& log = *logs[distinct[i]];
      const auto& l = log.log;
      if (i > begin) sql += ", ";
      append_tuple(sql, params.size() + 1, 8);
      params.emplace_back(i64(chain_id));
      params.emplace_back(hash_hex(l.block_hash));
      params.emplace_back(i64(l.log_index));
      params.emplace_back(i64(l.block_number));
      params.emplace_back(std::string(to_string(log.pipeline)));
      params.emplace_back(hash_hex(l.transaction_hash));
      params.emplace_back(l.topics.empty() ? std::string() : hash_hex(l.topics[0]));
      params.emplace_back(eth::to_lower_hex(l.address));
    }
    sql += " ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING RETURNING block_hash, log_index";
    for (const auto& r : tx.query(sql, params)) {
      auto it = first.find(std::pair{r.get_text(0), u64(r.get_int(1))});
      if (it != first.end()) fresh[it->second] = true;
    }
  });
  return fresh;
}

std::vector<AppliedLog> logs_above(Tx& tx, std::uint64_t chain_id, std::uint64_t block,
                                   std::optional<Pipeline> pipeline) {
  std::vector<AppliedLog> out;
  for (const auto& r :
       tx.query("SELECT block_hash, log_index, block_number, pipeline, txn_hash, topic, contract FROM chain_logs "
                "WHERE chain_id = $1 AND block_number > $2 AND ($3 = '' OR pipeline = $3) "
                "ORDER BY block_number DESC, log_index DESC",
                {i64(chain_id), i64(block), pipeline_param(pipeline)})) {
    out.push_back(AppliedLog{r.get_text(0), u64(r.get_int(1)), u64(r.get_int(2)), r.get_text(3), r.get_text(4),
                             r.get_text(5), r.get_text(6)});
  }
  return out;
}

void delete_logs_above(Tx& tx, std::uint64_t chain_id, std::uint64_t block, std::optional<Pipeline> pipeline) {
  tx.exec("DELETE FROM chain_logs WHERE chain_id = $1 AND block_number > $2 AND ($3 = '' OR pipeline = $3)",
          {i64(chain_id), i64(block), pipeline_param(pipeline)});
}

std::optional<std::string> read_projection(Tx& tx, std::uint64_t chain_id, const ProjectionChange& key) {
  const auto s = sql_of(key.projection);
  const auto params = key_params(s, chain_id, key);
  auto row = tx.query_one(std::string("SELECT ") + s.value + " FROM " + s.table + " WHERE " + key_where(s), params);
  if (!row) return std::nullopt;
  return row->get_text(0);
}

namespace {

// A projection's upsert and delete of one row, built once per projection: the writer runs them
// for every changed row of every range.
struct RowStatements {
  std::string upsert;
  std::string remove;
};

const RowStatements& row_statements(Projection p) {
  static const auto all = [] {
    std::array<RowStatements, 6> out;
    for (const auto projection : {Projection::erc20_balance, Projection::erc721_owner, Projection::erc1155_balance,
                                  Projection::stake, Projection::pair_tokens, Projection::pair_reserves}) {
      const auto s = sql_of(projection);
      std::string columns = "chain_id, contract";
      std::size_t count = 2;
      for (const char* key : {s.key1, s.key2}) {
        if (key == nullptr) continue;
        columns += std::string(", ") + key;
        ++count;
      }
      std::string placeholders;
      for (std::size_t i = 1; i <= count + 1; ++i) placeholders += (i > 1 ? ", $" : "$") + std::to_string(i);
      auto& r = out.at(static_cast<std::size_t>(projection));
      r.upsert = fmt::format("INSERT INTO {} ({}, {}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {} = ${}", s.table,
                             columns, s.value, placeholders, columns, s.value, count + 1);
      r.remove = fmt::format("DELETE FROM {} WHERE {}", s.table, key_where(s));
    }
    return out;
  }();
  return all.at(static_cast<std::size_t>(p));
}

}  // namespace

void write_projection(Tx& tx, std::uint64_t chain_id, const ProjectionChange& key,
                      const std::optional<std::string>& value) {
  const auto& statements = row_statements(key.projection);
  auto params = key_params(sql_of(key.projection), chain_id, key);
  if (!value) {
    tx.exec(statements.remove, params);
    return;
  }
  params.emplace_back(*value);
  tx.exec(statements.upsert, params);
}

std::vector<std::optional<std::string>> read_projections(Tx& tx, std::uint64_t chain_id,
                                                         const std::vector<const ProjectionChange*>& keys) {
  std::vector<std::optional<std::string>> out(keys.size());
  // Rows of a projection with one key besides the contract are read by groups of one contract:
  // "key1 IN (...)"; the others (two keys, or none) one by one.
  std::map<std::pair<Projection, std::string>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto s = sql_of(keys[i]->projection);
    if (s.key1 != nullptr && s.key2 == nullptr) {
      groups[{keys[i]->projection, keys[i]->contract}].push_back(i);
    } else {
      out[i] = read_projection(tx, chain_id, *keys[i]);
    }
  }
  for (const auto& entry : groups) {
    const auto& group = entry.first;
    const auto& members = entry.second;
    const auto s = sql_of(group.first);
    in_batches(members.size(), [&](std::size_t begin, std::size_t end) {
      std::string sql = std::string("SELECT ") + s.key1 + ", " + s.value + " FROM " + s.table +
                        " WHERE chain_id = $1 AND contract = $2 AND " + s.key1 + " IN ";
      std::vector<Value> params{i64(chain_id), group.second};
      params.reserve(2 + end - begin);
      append_tuple(sql, 3, end - begin);
      for (std::size_t i = begin; i < end; ++i) params.emplace_back(keys[members[i]]->key1);
      std::map<std::string, std::string, std::less<>> found;
      for (const auto& r : tx.query(sql, params)) found.emplace(r.get_text(0), r.get_text(1));
      for (std::size_t i = begin; i < end; ++i) {
        auto it = found.find(keys[members[i]]->key1);
        if (it != found.end()) out[members[i]] = it->second;
      }
    });
  }
  return out;
}

void write_projections(Tx& tx, std::uint64_t chain_id, const std::vector<ProjectionWrite>& rows) {
  if (!multi_row_writes(tx)) {
    // In key order: each statement then finds its B-tree pages where the previous one left them.
    std::vector<const ProjectionWrite*> sorted;
    sorted.reserve(rows.size());
    for (const auto& row : rows) sorted.push_back(&row);
    std::sort(sorted.begin(), sorted.end(), [](const ProjectionWrite* a, const ProjectionWrite* b) {
      return std::tie(a->key->projection, a->key->contract, a->key->key1, a->key->key2) <
             std::tie(b->key->projection, b->key->contract, b->key->key1, b->key->key2);
    });
    for (const auto* row : sorted) write_projection(tx, chain_id, *row->key, row->value);
    return;
  }
  // Grouped like read_projections: by projection and contract for the one-key projections, with
  // one multi-row upsert for the rows that hold a value and one DELETE ... IN for those that no
  // longer do; the others row by row.
  struct Group {
    std::vector<const ProjectionWrite*> upserts;
    std::vector<const ProjectionWrite*> deletes;
  };
  std::map<std::pair<Projection, std::string>, Group> groups;
  for (const auto& row : rows) {
    const auto s = sql_of(row.key->projection);
    if (s.key1 != nullptr && s.key2 == nullptr) {
      auto& g = groups[{row.key->projection, row.key->contract}];
      (row.value ? g.upserts : g.deletes).push_back(&row);
    } else {
      write_projection(tx, chain_id, *row.key, row.value);
    }
  }
  for (const auto& entry : groups) {
    const auto& group = entry.first;
    const Group& g = entry.second;
    const auto s = sql_of(group.first);
    in_batches(g.upserts.size(), [&](std::size_t begin, std::size_t end) {
      std::string sql =
          std::string("INSERT INTO ") + s.table + " (chain_id, contract, " + s.key1 + ", " + s.value + ") VALUES ";
      std::vector<Value> params;
      params.reserve((end - begin) * 4);
      for (std::size_t i = begin; i < end; ++i) {
        if (i > begin) sql += ", ";
        append_tuple(sql, params.size() + 1, 4);
        params.emplace_back(i64(chain_id));
        params.emplace_back(group.second);
        params.emplace_back(g.upserts[i]->key->key1);
        params.emplace_back(*g.upserts[i]->value);
      }
      sql += std::string(" ON CONFLICT (chain_id, contract, ") + s.key1 + ") DO UPDATE SET " + s.value +
             " = excluded." + s.value;
      tx.exec(sql, params);
    });
    in_batches(g.deletes.size(), [&](std::size_t begin, std::size_t end) {
      std::string sql =
          std::string("DELETE FROM ") + s.table + " WHERE chain_id = $1 AND contract = $2 AND " + s.key1 + " IN ";
      std::vector<Value> params{i64(chain_id), group.second};
      params.reserve(2 + end - begin);
      append_tuple(sql, 3, end - begin);
      for (std::size_t i = begin; i < end; ++i) params.emplace_back(g.deletes[i]->key->key1);
      tx.exec(sql, params);
    });
  }
}

void journal_many(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::vector<JournalEntry>& entries) {
  if (!multi_row_writes(tx)) {
    for (const auto& e : entries) journal(tx, chain_id, e.block, pipeline, *e.key, e.previous);
    return;
  }
  const std::string pipe(to_string(pipeline));
  in_batches(entries.size(), [&](std::size_t begin, std::size_t end) {
    std::string sql =
        "INSERT INTO chain_journal (chain_id, block_number, pipeline, projection, contract, key1, key2, prev_value) "
        "VALUES ";
    std::vector<Value> params;
    params.reserve((end - begin) * 8);
    for (std::size_t i = begin; i < end; ++i) {
      const auto& e = entries[i];
      if (i > begin) sql += ", ";
      append_tuple(sql, params.size() + 1, 8);
      params.emplace_back(i64(chain_id));
      params.emplace_back(i64(e.block));
      params.emplace_back(pipe);
      params.emplace_back(std::string(to_string(e.key->projection)));
      params.emplace_back(e.key->contract);
      params.emplace_back(e.key->key1);
      params.emplace_back(e.key->key2);
      params.emplace_back(e.previous ? Value(*e.previous) : Value(nullptr));
    }
    // The rows of one statement take their seq in the order of VALUES: undo (seq DESC) replays
    // them newest first.
    tx.exec(sql, params);
  });
}

void journal(Tx& tx, std::uint64_t chain_id, std::uint64_t block, Pipeline pipeline, const ProjectionChange& key,
             const std::optional<std::string>& previous) {
  tx.exec(
      "INSERT INTO chain_journal (chain_id, block_number, pipeline, projection, contract, key1, key2, prev_value) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {i64(chain_id), i64(block), std::string(to_string(pipeline)), std::string(to_string(key.projection)),
       key.contract, key.key1, key.key2, previous ? Value(*previous) : Value(nullptr)});
}

std::int64_t undo_journal_above(Tx& tx, std::uint64_t chain_id, std::uint64_t block, std::optional<Pipeline> pipeline) {
  auto rows = tx.query(
      "SELECT projection, contract, key1, key2, prev_value FROM chain_journal "
      "WHERE chain_id = $1 AND block_number > $2 AND ($3 = '' OR pipeline = $3) ORDER BY block_number DESC, seq DESC",
      {i64(chain_id), i64(block), pipeline_param(pipeline)});
  // Newest first, each entry's previous value replaces the row's: what stays is the value before
  // the oldest change undone. Each row is then written once.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::size_t> index;
  std::vector<ProjectionChange> keys;
  std::vector<std::optional<std::string>> values;
  for (const auto& r : rows) {
    auto [it, added] = index.try_emplace({r.get_text(0), r.get_text(1), r.get_text(2), r.get_text(3)}, keys.size());
    if (added) {
      ProjectionChange key;
      key.projection = parse_projection(r.get_text(0)).value_or(Projection::erc20_balance);
      key.contract = r.get_text(1);
      key.key1 = r.get_text(2);
      key.key2 = r.get_text(3);
      keys.push_back(std::move(key));
      values.emplace_back();
    }
    values[it->second] = r.opt_text(4);
  }
  std::vector<ProjectionWrite> writes;
  writes.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) writes.push_back({&keys[i], std::move(values[i])});
  write_projections(tx, chain_id, writes);
  tx.exec("DELETE FROM chain_journal WHERE chain_id = $1 AND block_number > $2 AND ($3 = '' OR pipeline = $3)",
          {i64(chain_id), i64(block), pipeline_param(pipeline)});
  return static_cast<std::int64_t>(rows.size());
}

void clear_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline) {
  const char* table = nullptr;
  switch (pipeline) {
    case Pipeline::erc20:
      table = "chain_erc20_balances";
      break;
    case Pipeline::erc721:
      table = "chain_erc721_owners";
      break;
    case Pipeline::erc1155:
      table = "chain_erc1155_balances";
      break;
    case Pipeline::staking:
      table = "chain_stakes";
      break;
    case Pipeline::uniswap_v2:
      tx.exec("DELETE FROM chain_v2_pair_tokens WHERE chain_id = $1", {i64(chain_id)});
      table = "chain_v2_pair_reserves";
      break;
    case Pipeline::multisend:
      break;
  }
  if (table != nullptr) tx.exec(std::string("DELETE FROM ") + table + " WHERE chain_id = $1", {i64(chain_id)});
  const std::string name = to_string(pipeline);
  tx.exec("DELETE FROM chain_journal WHERE chain_id = $1 AND pipeline = $2", {i64(chain_id), name});
  tx.exec("DELETE FROM chain_logs WHERE chain_id = $1 AND pipeline = $2", {i64(chain_id), name});
}

std::optional<std::uint64_t> oldest_journaled_block(Tx& tx, std::uint64_t chain_id) {
  auto row = tx.query_one("SELECT min(block_number) FROM chain_blocks WHERE chain_id = $1", {i64(chain_id)});
  if (!row || row->is_null(0)) return std::nullopt;
  return u64(row->get_int(0));
}

bool window_pruned(Tx& tx, std::uint64_t chain_id, std::uint64_t start_block) {
  auto oldest = oldest_journaled_block(tx, chain_id);
  return oldest && *oldest > start_block;
}

namespace {

constexpr const char* tracked_columns =
    "chain_id, pipeline, contract, start_block, backfilled_to, joined, logs_applied, last_error";

TrackedContract to_tracked(const Row& r) {
  TrackedContract t;
  t.chain_id = u64(r.get_int(0));
  t.pipeline = r.get_text(1);
  t.contract = r.get_text(2);
  t.start_block = u64(r.get_int(3));
  t.backfilled_to = r.get_int(4);
  t.joined = r.get_int(5) != 0;
  t.logs_applied = r.get_int(6);
  t.last_error = r.opt_text(7);
  return t;
}

}  // namespace

TrackedContract track_contract(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& contract,
                               std::uint64_t start_block, std::int64_t now_ms, bool created_by_factory) {
  const std::string name = to_string(pipeline);
  const std::int64_t before = i64(start_block) - 1;
  const std::int64_t created = created_by_factory ? i64(start_block) : -1;  // -1: NULL
  tx.exec(
      "INSERT INTO chain_tracked_contracts (chain_id, pipeline, contract, start_block, backfilled_to, joined, "
      "logs_applied, last_error, added_ms, updated_ms, created_block) "
      "VALUES ($1, $2, $3, $4, $5, 0, 0, NULL, $6, $6, NULLIF($7, -1)) ON CONFLICT (chain_id, pipeline, contract) DO "
      "NOTHING",
      {i64(chain_id), name, contract, i64(start_block), before, now_ms, created});
  // Lower the start while the backfill has not applied anything (nothing to undo).
  tx.exec(
      "UPDATE chain_tracked_contracts SET start_block = $4, backfilled_to = $5, updated_ms = $6 "
      "WHERE chain_id = $1 AND pipeline = $2 AND contract = $3 AND start_block > $4 AND joined = 0 AND "
      "logs_applied = 0 AND backfilled_to = start_block - 1",
      {i64(chain_id), name, contract, i64(start_block), before, now_ms});
  // Tracked for another reason too: no revert of the factory's log untracks it any more.
  if (!created_by_factory) {
    tx.exec(
        "UPDATE chain_tracked_contracts SET created_block = NULL "
        "WHERE chain_id = $1 AND pipeline = $2 AND contract = $3 AND created_block IS NOT NULL",
        {i64(chain_id), name, contract});
  }
  return *tracked_contract(tx, chain_id, pipeline, contract);
}

std::optional<TrackedContract> tracked_contract(Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                                const std::string& contract) {
  auto row = tx.query_one(std::string("SELECT ") + tracked_columns +
                              " FROM chain_tracked_contracts WHERE chain_id = $1 AND pipeline = $2 AND contract = $3",
                          {i64(chain_id), std::string(to_string(pipeline)), contract});
  if (!row) return std::nullopt;
  return to_tracked(*row);
}

std::vector<TrackedContract> tracked_contracts(Tx& tx, std::optional<std::uint64_t> chain_id) {
  std::vector<TrackedContract> out;
  for (const auto& r : tx.query(std::string("SELECT ") + tracked_columns +
                                    " FROM chain_tracked_contracts WHERE ($1 < 0 OR chain_id = $1) "
                                    "ORDER BY chain_id, pipeline, contract",
                                {chain_id ? i64(*chain_id) : std::int64_t{-1}})) {
    out.push_back(to_tracked(r));
  }
  return out;
}

void advance_tracked(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& contract,
                     std::int64_t backfilled_to, std::int64_t applied, bool joined, std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_tracked_contracts SET backfilled_to = $4, logs_applied = logs_applied + $5, joined = $6, "
      "last_error = NULL, updated_ms = $7 WHERE chain_id = $1 AND pipeline = $2 AND contract = $3",
      {i64(chain_id), std::string(to_string(pipeline)), contract, backfilled_to, applied, std::int64_t{joined ? 1 : 0},
       now_ms});
}

void record_tracked_error(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& contract,
                          const std::string& error, std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_tracked_contracts SET last_error = $4, updated_ms = $5 "
      "WHERE chain_id = $1 AND pipeline = $2 AND contract = $3",
      {i64(chain_id), std::string(to_string(pipeline)), contract, error, now_ms});
}

void rewind_tracked(Tx& tx, std::uint64_t chain_id, std::optional<Pipeline> pipeline, std::int64_t block,
                    std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_tracked_contracts SET backfilled_to = $3, updated_ms = $4 "
      "WHERE chain_id = $1 AND ($2 = '' OR pipeline = $2) AND backfilled_to > $3",
      {i64(chain_id), pipeline_param(pipeline), block, now_ms});
}

std::int64_t untrack_created_above(Tx& tx, std::uint64_t chain_id, std::optional<Pipeline> pipeline,
                                   std::int64_t block) {
  return tx.exec(
      "DELETE FROM chain_tracked_contracts WHERE chain_id = $1 AND ($2 = '' OR pipeline = $2) AND created_block > $3",
      {i64(chain_id), pipeline_param(pipeline), block});
}

void restart_tracked(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_tracked_contracts SET backfilled_to = start_block - 1, joined = 0, updated_ms = $3 "
      "WHERE chain_id = $1 AND pipeline = $2",
      {i64(chain_id), std::string(to_string(pipeline)), now_ms});
}

void count_pipeline_logs(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t applied, std::int64_t now_ms) {
  tx.exec(
      "UPDATE chain_pipelines SET logs_applied = logs_applied + $3, updated_ms = $4 "
      "WHERE chain_id = $1 AND pipeline = $2",
      {i64(chain_id), std::string(to_string(pipeline)), applied, now_ms});
}

std::vector<Holding> holdings(Tx& tx, const std::string& address, std::optional<std::uint64_t> chain_id) {
  std::vector<Holding> out;
  const Value chain = chain_id ? i64(*chain_id) : std::int64_t{-1};
  for (const auto& r : tx.query("SELECT chain_id, contract, amount FROM chain_erc20_balances WHERE holder = $1 AND "
                                "($2 < 0 OR chain_id = $2) ORDER BY chain_id, contract",
                                {address, chain})) {
    out.push_back(Holding{u64(r.get_int(0)), "erc20", r.get_text(1), "", r.get_text(2)});
  }
  for (const auto& r : tx.query("SELECT chain_id, contract, token_id FROM chain_erc721_owners WHERE owner = $1 AND "
                                "($2 < 0 OR chain_id = $2) ORDER BY chain_id, contract, token_id",
                                {address, chain})) {
    out.push_back(Holding{u64(r.get_int(0)), "erc721", r.get_text(1), r.get_text(2), "1"});
  }
  for (const auto& r :
       tx.query("SELECT chain_id, contract, token_id, amount FROM chain_erc1155_balances WHERE holder = $1 "
                "AND ($2 < 0 OR chain_id = $2) ORDER BY chain_id, contract, token_id",
                {address, chain})) {
    out.push_back(Holding{u64(r.get_int(0)), "erc1155", r.get_text(1), r.get_text(2), r.get_text(3)});
  }
  for (const auto& r : tx.query("SELECT chain_id, contract, amount FROM chain_stakes WHERE staker = $1 AND "
                                "($2 < 0 OR chain_id = $2) ORDER BY chain_id, contract",
                                {address, chain})) {
    out.push_back(Holding{u64(r.get_int(0)), "staked", r.get_text(1), "", r.get_text(2)});
  }
  return out;
}

}  // namespace gh::chain::storage
