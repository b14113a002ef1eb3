#pragma once
// Metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
// Families are created once (usually at start-up) and their children looked up by label values;
// updates are lock-free atomics, so hot paths keep a reference to the child they update.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gh::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing value.
class Counter {
 public:
  void inc(double v = 1.0) noexcept { m_value.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> m_value{0.0};
};

/// A value that goes up and down.
class Gauge {
 public:
  void set(double v) noexcept { m_value.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) noexcept { m_value.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) noexcept { m_value.fetch_sub(v, std::memory_order_relaxed); }
  double value() const noexcept { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> m_value{0.0};
};

/// Observations counted into cumulative buckets, with their sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const noexcept { return m_bounds; }
  /// Cumulative count of observations <= bounds()[i]; index bounds().size() is +Inf.
  std::uint64_t cumulative(std::size_t i) const noexcept;
  double sum() const noexcept { return m_sum.load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return m_count.load(std::memory_order_relaxed); }

 private:
  std::vector<double> m_bounds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_buckets;
  std::atomic<double> m_sum{0.0};
  std::atomic<std::uint64_t> m_count{0};
};

/// Default latency buckets in seconds (1 ms .. 10 s).
std::vector<double> latency_buckets();

/// A named set of metrics sharing type, help and label names.
template <class M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make)
      : m_name(std::move(name)),
        m_help(std::move(help)),
        m_label_names(std::move(label_names)),
        m_make(std::move(make)) {}

  /// The child for these label values (created on first use); values follow the label names.
  M& with(const std::vector<std::string>& values);
  const std::string& name() const { return m_name; }
  const std::string& help() const { return m_help; }
  const std::vector<std::string>& label_names() const { return m_label_names; }
  /// Calls f(label values, metric) for every child, in label order.
  void for_each(const std::function<void(const std::vector<std::string>&, const M&)>& f) const;

 private:
  std::string m_name;
  std::string m_help;
  std::vector<std::string> m_label_names;
  std::function<std::unique_ptr<M>()> m_make;
  mutable std::mutex m_mutex;
  std::map<std::vector<std::string>, std::unique_ptr<M>> m_children;
};

/// A value computed when /metrics is scraped (pool sizes, process figures).
struct Sample {
  Labels labels;
  double value = 0;
};

/// The registry of all families; render() produces the exposition text.
class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds);
  /// A gauge (or counter, when `counter` is true) whose samples are computed at scrape time.
  void callback(std::string name, std::string help, bool counter, std::function<std::vector<Sample>()> collect);
  /// Process figures: RSS, virtual memory, CPU seconds, open and max fds, start time.
  void add_process_metrics();
  /// The Prometheus text format of every family, sorted by name.
  std::string render() const;

 private:
  struct Entry;
  template <class M>
  Family<M>& family(std::string name, std::string help, std::vector<std::string> labels, const char* type,
                    std::function<std::unique_ptr<M>()> make);

  mutable std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Entry>> m_entries;
};

/// Escapes a label value for the text format (backslash, quote, newline).
std::string escape_label_value(std::string_view v);

}  // namespace gh::metrics
