#include "core/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <fmt/format.h>

namespace gh::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : m_bounds(std::move(bounds)), m_buckets(new std::atomic<std::uint64_t>[m_bounds.size() + 1]) {
  std::sort(m_bounds.begin(), m_bounds.end());
  for (std::size_t i = 0; i <= m_bounds.size(); ++i) m_buckets[i].store(0);
}

void Histogram::observe(double v) noexcept {
  const auto it = std::lower_bound(m_bounds.begin(), m_bounds.end(), v);
  m_buckets[static_cast<std::size_t>(it - m_bounds.begin())].fetch_add(1, std::memory_order_relaxed);
  m_sum.fetch_add(v, std::memory_order_relaxed);
  m_count.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t Histogram::cumulative(std::size_t i) const noexcept {
  std::uint64_t total = 0;
  for (std::size_t k = 0; k <= i && k <= m_bounds.size(); ++k) total += m_buckets[k].load(std::memory_order_relaxed);
  return total;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
}

template <class M>
M& Family<M>::with(const std::vector<std::string>& values) {
  if (values.size() != m_label_names.size()) {
    throw std::logic_error("metric " + m_name + ": wrong number of label values");
  }
  std::lock_guard lock(m_mutex);
  auto& slot = m_children[values];
  if (!slot) slot = m_make();
  return *slot;
}

template <class M>
void Family<M>::for_each(const std::function<void(const std::vector<std::string>&, const M&)>& f) const {
  std::lock_guard lock(m_mutex);
  for (const auto& [values, metric] : m_children) f(values, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  std::string type;
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>, std::unique_ptr<Family<Histogram>>>
      family;
  std::string help;
  std::function<std::vector<Sample>()> collect;
};

namespace {

void check_name(const std::string& name) {
  const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
  }) && !(name[0] >= '0' && name[0] <= '9');
  if (!ok) throw std::logic_error("invalid metric name: " + name);
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string render_labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                          std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  out += '}';
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

template <class M>
Family<M>& Registry::family(std::string name, std::string help, std::vector<std::string> labels, const char* type,
                            std::function<std::unique_ptr<M>()> make) {
  check_name(name);
  std::lock_guard lock(m_mutex);
  auto& e = m_entries[name];
  if (!e) {
    e = std::make_shared<Entry>();
    e->type = type;
    e->help = help;
    e->family = std::make_unique<Family<M>>(name, help, std::move(labels), std::move(make));
  }
  auto* f = std::get_if<std::unique_ptr<Family<M>>>(&e->family);
  if (!f) throw std::logic_error("metric " + name + " registered with another type");
  return **f;
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  return family<Counter>(std::move(name), std::move(help), std::move(labels), "counter",
                         [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  return family<Gauge>(std::move(name), std::move(help), std::move(labels), "gauge",
                       [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  return family<Histogram>(std::move(name), std::move(help), std::move(labels), "histogram",
                           [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
}

void Registry::callback(std::string name, std::string help, bool counter,
                        std::function<std::vector<Sample>()> collect) {
  check_name(name);
  std::lock_guard lock(m_mutex);
  auto e = std::make_shared<Entry>();
  e->type = counter ? "counter" : "gauge";
  e->help = std::move(help);
  e->collect = std::move(collect);
  m_entries[std::move(name)] = std::move(e);
}

std::string Registry::render() const {
  std::vector<std::pair<std::string, std::shared_ptr<Entry>>> entries;
  {
    std::lock_guard lock(m_mutex);
    entries.assign(m_entries.begin(), m_entries.end());
  }
  std::string out;
  // No structured binding: `name` is captured by the lambdas below, which clang 14 cannot do.
  for (const auto& entry : entries) {
    const std::string& name = entry.first;
    const auto& e = entry.second;
    out += "# HELP " + name + " " + escape_help(e->help) + "\n";
    out += "# TYPE " + name + " " + e->type + "\n";
    if (e->collect) {
      for (const auto& s : e->collect()) {
        std::vector<std::string> names, values;
        for (const auto& [k, v] : s.labels) {
          names.push_back(k);
          values.push_back(v);
        }
        out += name + render_labels(names, values) + " " + format_value(s.value) + "\n";
      }
      continue;
    }
    std::visit(
        [&](const auto& fam) {
          using F = std::decay_t<decltype(*fam)>;
          if constexpr (std::is_same_v<F, Family<Histogram>>) {
            fam->for_each([&](const std::vector<std::string>& values, const Histogram& h) {
              const auto& bounds = h.bounds();
              for (std::size_t i = 0; i < bounds.size(); ++i) {
                out += name + "_bucket" + render_labels(fam->label_names(), values, "le", format_value(bounds[i])) +
                       " " + std::to_string(h.cumulative(i)) + "\n";
              }
              out += name + "_bucket" + render_labels(fam->label_names(), values, "le", "+Inf") + " " +
                     std::to_string(h.cumulative(bounds.size())) + "\n";
              out += name + "_sum" + render_labels(fam->label_names(), values) + " " + format_value(h.sum()) + "\n";
              out +=
                  name + "_count" + render_labels(fam->label_names(), values) + " " + std::to_string(h.count()) + "\n";
            });
          } else {
            fam->for_each([&](const std::vector<std::string>& values, const auto& m) {
              out += name + render_labels(fam->label_names(), values) + " " + format_value(m.value()) + "\n";
            });
          }
        },
        e->family);
  }
  return out;
}

namespace {

double read_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages_total = 0, pages_rss = 0;
  if (!(in >> pages_total >> pages_rss)) return 0;
  return static_cast<double>(pages_rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double read_vsize_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages_total = 0;
  if (!(in >> pages_total)) return 0;
  return static_cast<double>(pages_total) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  double n = 0;
  while (auto* ent = readdir(dir)) {
    if (ent->d_name[0] != '.') n += 1;
  }
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

double start_time_seconds() {
  static const double start = [] {
    std::ifstream stat("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close_paren = content.rfind(')');
    if (close_paren == std::string::npos) return 0.0;
    std::istringstream rest(content.substr(close_paren + 2));
    std::string field;
    // Fields after the command name start at field 3 (state); starttime is field 22.
    for (int i = 3; i < 22 && rest >> field; ++i) {
    }
    unsigned long long start_ticks = 0;
    rest >> start_ticks;
    std::ifstream uptime_file("/proc/uptime");
    double uptime = 0;
    uptime_file >> uptime;
    const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count()) /
                       1000.0;
    return now - uptime + static_cast<double>(start_ticks) / ticks;
  }();
  return start;
}

}  // namespace

void Registry::add_process_metrics() {
  callback("process_resident_memory_bytes", "Resident memory size in bytes.", false, [] {
    return std::vector<Sample>{{{}, read_rss_bytes()}};
  });
  callback("process_virtual_memory_bytes", "Virtual memory size in bytes.", false, [] {
    return std::vector<Sample>{{{}, read_vsize_bytes()}};
  });
  callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", true, [] {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double secs = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return std::vector<Sample>{{{}, secs}};
  });
  callback("process_open_fds", "Number of open file descriptors.", false, [] {
    return std::vector<Sample>{{{}, count_open_fds()}};
  });
  callback("process_max_fds", "Maximum number of open file descriptors.", false, [] {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    return std::vector<Sample>{{{}, static_cast<double>(rl.rlim_cur)}};
  });
  start_time_seconds();
  callback("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", false, [] {
    return std::vector<Sample>{{{}, start_time_seconds()}};
  });
}

}  // namespace gh::metrics
