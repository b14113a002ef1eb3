#pragma once
// A cache bounded by its number of entries and by their total cost (what each says it holds, in
// bytes), which drops the least recently used first. Not thread-safe: its owner locks it.
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace gh {

template <class V>
class LruCache {
 public:
  LruCache(std::size_t max_entries, std::size_t max_cost) : m_max_entries(max_entries), m_max_cost(max_cost) {}

  /// The value held for `key`, which becomes the most recently used; null when none is.
  std::shared_ptr<const V> find(const std::string& key) {
    auto it = m_index.find(key);
    if (it == m_index.end()) return nullptr;
    m_order.splice(m_order.begin(), m_order, it->second);
    return it->second->value;
  }

  /// Holds `value` for `key` (replacing what was held), as the most recently used, then drops the
  /// least recently used until both bounds hold. A value costing more than the whole bound is not
  /// held (what was held for the key goes).
  void put(const std::string& key, std::shared_ptr<const V> value, std::size_t cost) {
    erase(key);
    if (cost > m_max_cost || m_max_entries == 0) return;
    m_order.push_front(Entry{key, std::move(value), cost});
    m_index.emplace(key, m_order.begin());
    m_cost += cost;
    while (m_order.size() > m_max_entries || m_cost > m_max_cost) {
      m_cost -= m_order.back().cost;
      m_index.erase(m_order.back().key);
      m_order.pop_back();
    }
  }

  void erase(const std::string& key) {
    auto it = m_index.find(key);
    if (it == m_index.end()) return;
    m_cost -= it->second->cost;
    m_order.erase(it->second);
    m_index.erase(it);
  }

  std::size_t size() const noexcept { return m_order.size(); }
  std::size_t cost() const noexcept { return m_cost; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const V> value;
    std::size_t cost;
  };
  std::size_t m_max_entries;
  std::size_t m_max_cost;
  std::size_t m_cost = 0;
  std::list<Entry> m_order;  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> m_index;
};

}  // namespace gh
