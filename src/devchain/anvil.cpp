#include "devchain/anvil.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "core/detached.hpp"
#include "rpc/rpc_client.hpp"

extern char** environ;

namespace gh::devchain {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* anvil_in_package = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

bool is_executable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

/// The nearest directory at or above `start` that holds node_modules/@foundry-rs.
std::optional<std::string> search_upwards(fs::path start) {
  std::error_code ec;
  for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
    if (fs::is_directory(dir / "node_modules" / "@foundry-rs", ec)) return dir.string();
    if (dir == dir.parent_path()) break;
  }
  return std::nullopt;
}

/// A port nothing listens on right now: `wanted`, or the kernel's choice of an ephemeral port when
/// 0. Another process may take it before anvil binds: start() retries with a new port when anvil
/// exits (only when the port was not fixed).
Result<unsigned short> free_port(unsigned short wanted = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return internal_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(wanted);
  socklen_t len = sizeof(addr);
  // The sockets API takes sockaddr_in through a sockaddr pointer by design.
  auto* generic = reinterpret_cast<sockaddr*>(&addr);
  if (::bind(fd, generic, sizeof(addr)) != 0 || ::getsockname(fd, generic, &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    if (wanted != 0) {
      return make_error(ErrorKind::unavailable, "port_in_use",
                        "port " + std::to_string(wanted) + " on 127.0.0.1 is not free: " + why);
    }
    return internal_error("cannot pick a free port: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Asks eth_chainId once, with a short bound.
std::optional<std::uint64_t> probe_chain_id(const std::string& url) {
  boost::asio::io_context ioc;
  rpc::RpcClientSettings settings;
  settings.endpoints = {url};
  settings.max_attempts = 1;
  settings.attempt_timeout = 500ms;
  settings.total_timeout = 1s;
  rpc::RpcClient client(ioc.get_executor(), settings);
  std::optional<std::uint64_t> out;
  boost::asio::co_spawn(
      ioc,
      [&]() -> Task<void> {
        auto id = co_await client.chain_id();
        if (id) out = *id;
      },
      LoggedDetached("devchain.anvil"));
  ioc.run();
  return out;
}

/// Stops `pid`: SIGTERM, then SIGKILL after `bound`; always reaps it.
void terminate_and_reap(pid_t pid, std::chrono::milliseconds bound) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

/// Spawns anvil with its output to `log_file` (or /dev/null) and no stdin.
Result<pid_t> spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& log_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = log_file.empty() ? "/dev/null" : log_file;
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return make_error(ErrorKind::internal, "anvil_spawn_failed", "cannot start " + binary + ": " + std::strerror(rc));
  return pid;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  const auto count = ms.count();
  std::string text = std::to_string(count / 1000);
  if (count % 1000) {
    std::string frac = std::to_string(count % 1000);
    text += "." + std::string(3 - frac.size(), '0') + frac;
  }
  return text;
}

}  // namespace

std::optional<std::string> find_project_root() {
  if (const char* env = std::getenv("GATEHOUSE_SOURCE_DIR"); env && *env) {
    std::error_code ec;
    if (fs::is_directory(env, ec)) return std::string(env);
  }
  std::error_code ec;
  if (auto found = search_upwards(fs::current_path(ec))) return found;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) return search_upwards(exe.parent_path());
  return std::nullopt;
}

Result<std::string> find_anvil(const AnvilSettings& settings) {
  auto not_found = [](std::string why) {
    return make_error(ErrorKind::unavailable, "anvil_not_found", std::move(why));
  };
  if (!settings.binary.empty()) {
    if (is_executable(settings.binary)) return settings.binary;
    return not_found("anvil binary " + settings.binary + " is not an executable file");
  }
  if (const char* env = std::getenv("GATEHOUSE_ANVIL"); env && *env) {
    if (is_executable(env)) return std::string(env);
    return not_found(std::string("GATEHOUSE_ANVIL=") + env + " is not an executable file");
  }
  auto root = settings.project_root.empty() ? find_project_root() : std::optional<std::string>(settings.project_root);
  if (!root) return not_found("no project root with node_modules found: run `npm ci` in the project root");
  const fs::path candidate = fs::path(*root) / anvil_in_package;
  if (is_executable(candidate)) return candidate.string();
  return not_found(candidate.string() + " is missing: run `npm ci` in " + *root);
}

bool holds_listener(pid_t pid, unsigned short port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  std::set<std::string> inodes;
  while (std::getline(tcp, line)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    std::istringstream fields(line);
    std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    const auto colon = local.find(':');
    if (state != "0A" || colon == std::string::npos) continue;  // 0A: LISTEN
    if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port) inodes.insert("socket:[" + inode + "]");
  }
  if (inodes.empty()) return false;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    const auto target = fs::read_symlink(fd.path(), link_ec);
    if (!link_ec && inodes.count(target.string()) > 0) return true;
  }
  return false;
}

Result<AnvilProcess> AnvilProcess::start(AnvilSettings settings) {
  auto binary = find_anvil(settings);
  if (!binary) return std::move(binary).error();

  // A fixed port gets one try: another process holding it is the user's to resolve.
  const int max_port_tries = settings.port != 0 ? 1 : 3;
  Error last = make_error(ErrorKind::unavailable, "anvil_start_timeout", "anvil did not start");
  for (int attempt = 0; attempt < max_port_tries; ++attempt) {
    auto port = free_port(settings.port);
    if (!port) return std::move(port).error();
    std::vector<std::string> args = {
        "--host", "127.0.0.1", "--port", std::to_string(*port), "--chain-id", std::to_string(settings.chain_id)};
    if (settings.block_time) {
      args.push_back("--block-time");
      args.push_back(seconds_text(*settings.block_time));
    }
    if (settings.log_file.empty()) args.push_back("--silent");
    args.insert(args.end(), settings.extra_args.begin(), settings.extra_args.end());
    // anvil writes the states it no longer holds in memory under ~/.foundry/anvil/tmp and leaves
    // them there when killed (gigabytes over a day of tests): a directory of our own instead.
    std::string cache;
    if (std::find(settings.extra_args.begin(), settings.extra_args.end(), "--cache-path") ==
        settings.extra_args.end()) {
      std::string pattern = (fs::temp_directory_path() / "gh-anvil-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) {
        return make_error(ErrorKind::internal, "anvil_spawn_failed",
                          std::string("cannot create anvil's cache directory: ") + std::strerror(errno));
      }
      cache = pattern;
      args.push_back("--cache-path");
      args.push_back(cache);
    }

    auto pid = spawn(*binary, args, settings.log_file);
    if (!pid) {
      if (!cache.empty()) {
        std::error_code ignored;
        fs::remove_all(cache, ignored);
      }
      return std::move(pid).error();
    }
    AnvilProcess process(*pid, *port, settings.chain_id, settings.stop_timeout, cache);

    const auto deadline = std::chrono::steady_clock::now() + settings.start_timeout;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(process.m_pid, &status, WNOHANG) == process.m_pid) {
        process.m_pid = -1;  // reaped: nothing left to stop
        exited = true;
        last = make_error(ErrorKind::unavailable, "anvil_exited",
                          "anvil exited during start-up (status " + std::to_string(status) + ")" +
                              (settings.log_file.empty() ? "" : "; see " + settings.log_file));
        break;
      }
      if (auto id = probe_chain_id(process.rpc_url())) {
        if (*id != settings.chain_id) {
          return make_error(ErrorKind::internal, "anvil_exited",
                            "something else answers on port " + std::to_string(*port));
        }
        if (holds_listener(process.m_pid, *port)) return process;
        // Between free_port() and anvil's bind another process took the port, and its anvil (the
        // same chain id when tests run in parallel) answers in place of ours: stop ours, try another.
        process.stop();
        exited = true;
        last = make_error(ErrorKind::unavailable, "anvil_port_taken",
                          "another anvil took port " + std::to_string(*port) + " first");
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    // Exiting at once most likely means another process took the port: try another one.
    if (!exited) {
      return make_error(ErrorKind::unavailable, "anvil_start_timeout", "anvil did not answer eth_chainId in time");
    }
  }
  return last;
}

AnvilProcess::AnvilProcess(AnvilProcess&& other) noexcept
    : m_pid(other.m_pid),
      m_port(other.m_port),
      m_chain_id(other.m_chain_id),
      m_stop_timeout(other.m_stop_timeout),
      m_cache_path(std::exchange(other.m_cache_path, std::string())) {
  other.m_pid = -1;
}

AnvilProcess& AnvilProcess::operator=(AnvilProcess&& other) noexcept {
  if (this != &other) {
    stop();
    m_pid = other.m_pid;
    m_port = other.m_port;
    m_chain_id = other.m_chain_id;
    m_stop_timeout = other.m_stop_timeout;
    m_cache_path = std::exchange(other.m_cache_path, std::string());
    other.m_pid = -1;
  }
  return *this;
}

AnvilProcess::~AnvilProcess() {
  stop();
}

void AnvilProcess::stop() noexcept {
  terminate_and_reap(m_pid, m_stop_timeout);
  m_pid = -1;
  if (!m_cache_path.empty()) {
    std::error_code ignored;
    fs::remove_all(m_cache_path, ignored);
    m_cache_path.clear();
  }
}

std::string AnvilProcess::rpc_url() const {
  return "http://127.0.0.1:" + std::to_string(m_port);
}

}  // namespace gh::devchain
