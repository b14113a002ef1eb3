// ws_load: the gateway's load generator (make bench-gateway, scripts/run-gateway-bench). It opens C
// WebSockets to a running server, subscribes each to one channel, posts M messages over HTTP at a
// steady rate and measures, from the outside, what the server spends: delivery latency per frame
// (the send time travels in the message body; the same monotonic clock reads it back), lost and
// duplicated frames, the server's resident memory before, idle and busy (VmRSS of --pid), and its
// CPU (utime + stime of --pid) per delivered frame. One line of JSON goes to stdout.
//
// Against gatehouse (default) it signs N accounts in with EIP-4361, creates a community and a
// channel and joins the accounts; with --reference it drives bench/ws_fanout_reference.mjs, a
// minimal fan-out server speaking the same frames, which needs no sign-in.
//
// The receiving side is one thread with one epoll loop that owns every socket from its connect on:
// it writes the upgrade request and reads the answer itself, then, per readiness of a socket
// (level-triggered EPOLLIN), makes one recv into that socket's buffer and parses the server frames
// in it with a minimal RFC 6455 reader (no UTF-8 validation, no JSON parsing: a substring search
// finds the seq and the send time in the body), so that the generator costs little next to the
// server. Pings are answered with masked pongs, a close frame with a close. Four poster threads
// send the messages over keep-alive HTTP connections (Beast), as the setup does.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "eth/address.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/secp256k1.hpp"
#include "eth/siwe.hpp"
#include "http_head.hpp"

namespace {

using gh::bench::header_value;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "ws_load: %s\n", what.c_str());
  std::exit(1);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  int pid = 0;
  std::size_t sockets = 1000;
  std::size_t messages = 100;
  double rate = 20;
  std::size_t accounts = 0;  // 0: one per 100 sockets
  bool reference = false;
  bool thread = false;  // post in a thread of the channel (its sockets subscribe to the thread)
  std::string domain = "bench.gatehouse.test";
  std::size_t in_flight = 200;  // handshakes and subscribes under way at once
  double idle_seconds = 2;      // the window over which idle CPU is measured
  double drain_seconds = 10;    // how long to wait for missing frames once every post is sent
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value after " + std::string(a));
      return argv[++i];
    };
    if (a == "--url") {
      auto url = next();  // http://HOST:PORT
      const auto at = url.find("://");
      if (at != std::string::npos) url = url.substr(at + 3);
      const auto colon = url.rfind(':');
      if (colon == std::string::npos) fail("--url needs http://HOST:PORT");
      o.host = url.substr(0, colon);
      o.port = url.substr(colon + 1);
      while (!o.port.empty() && o.port.back() == '/') o.port.pop_back();
    } else if (a == "--pid") {
      o.pid = std::stoi(next());
    } else if (a == "--sockets") {
      o.sockets = std::stoul(next());
    } else if (a == "--messages") {
      o.messages = std::stoul(next());
    } else if (a == "--rate") {
      o.rate = std::stod(next());
    } else if (a == "--accounts") {
      o.accounts = std::stoul(next());
    } else if (a == "--reference") {
      o.reference = true;
    } else if (a == "--thread") {
      o.thread = true;
    } else if (a == "--domain") {
      o.domain = next();
    } else if (a == "--in-flight") {
      o.in_flight = std::stoul(next());
    } else if (a == "--idle-seconds") {
      o.idle_seconds = std::stod(next());
    } else if (a == "--drain-seconds") {
      o.drain_seconds = std::stod(next());
    } else {
      fail("unknown option " + std::string(a) +
           " (--url --pid --sockets --messages --rate --accounts --reference --thread --domain --in-flight "
           "--idle-seconds --drain-seconds)");
    }
  }
  if (o.pid <= 0) fail("--pid of the server is required");
  if (o.sockets == 0 || o.messages == 0 || o.rate <= 0) fail("sockets, messages and rate must be positive");
  if (o.accounts == 0) o.accounts = std::max<std::size_t>(1, (o.sockets + 99) / 100);
  o.in_flight = std::max<std::size_t>(1, o.in_flight);
  return o;
}

// ---- the server process, seen through /proc

std::int64_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  fail("cannot read VmRSS of pid " + std::to_string(pid));
}

// utime + stime in microseconds.
std::int64_t cpu_us(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) fail("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  std::int64_t utime = 0;
  std::int64_t stime = 0;
  // Fields from the state (3rd) on: utime is the 14th field, stime the 15th.
  for (int n = 3; n <= 15 && (fields >> field); ++n) {
    if (n == 14) utime = std::atoll(field.c_str());
    if (n == 15) stime = std::atoll(field.c_str());
  }
  const auto ticks = sysconf(_SC_CLK_TCK);
  return (utime + stime) * 1'000'000 / ticks;
}

// The machine's 1-minute load average: the bench shares its cores, and says how much.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double v = 0;
  in >> v;
  return v;
}

std::int64_t self_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1'000'000 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

// ---- a small blocking HTTP client (setup and the poster)

class HttpClient {
 public:
  HttpClient(std::string host, std::string port) : m_host(std::move(host)), m_port(std::move(port)), m_stream(m_io) {}

  struct Reply {
    unsigned status = 0;
    std::string body;
  };

  Reply request(http::verb method, const std::string& target, const std::string& body, const std::string& token) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (!m_connected) connect();
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, m_host + ":" + m_port);
        req.keep_alive(true);
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
        if (!body.empty() || method == http::verb::post) {
          req.set(http::field::content_type, "application/json");
          req.body() = body;
          req.prepare_payload();
        }
        http::write(m_stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(m_stream, buffer, res);
        if (!res.keep_alive()) m_connected = false;
        return Reply{res.result_int(), std::move(res.body())};
      } catch (const std::exception& e) {
        m_connected = false;
        beast::error_code ignored;
        m_stream.socket().close(ignored);
        if (attempt >= 2) fail(std::string("HTTP ") + std::string(target) + ": " + e.what());
      }
    }
  }

  json::object expect(http::verb method, const std::string& target, const std::string& body, const std::string& token,
                      unsigned status) {
    auto reply = request(method, target, body, token);
    if (reply.status != status) {
      fail(target + " answered " + std::to_string(reply.status) + ": " + reply.body.substr(0, 300));
    }
    if (reply.body.empty()) return {};
    auto value = json::parse(reply.body);
    return value.is_object() ? value.as_object() : json::object{};
  }

 private:
  void connect() {
    tcp::resolver resolver(m_io);
    m_stream.connect(resolver.resolve(m_host, m_port));
    m_stream.socket().set_option(tcp::no_delay(true));
    m_connected = true;
  }

  std::string m_host;
  std::string m_port;
  asio::io_context m_io;
  beast::tcp_stream m_stream;
  bool m_connected = false;
};

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) fail("response without " + std::string(key) + ": " + json::serialize(o));
  return std::string(v->as_string());
}

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

struct Account {
  std::string address;
  std::string token;
};

Account sign_in(HttpClient& http_client, const Options& o, std::mt19937_64& rng) {
  std::optional<gh::eth::PrivateKey> key;
  while (!key) {
    std::array<std::uint8_t, 32> secret{};
    for (auto& b : secret) b = static_cast<std::uint8_t>(rng());
    auto parsed = gh::eth::PrivateKey::from_bytes(gh::eth::ByteView(secret.data(), secret.size()));
    if (parsed) key.emplace(*parsed);
  }
  const auto nonce = str(http_client.expect(http::verb::post, "/v1/auth/nonce", "{}", "", 200), "nonce");
  gh::eth::SiweMessage m;
  m.domain = o.domain;
  m.address = key->address();
  m.statement = "Sign in to the gateway benchmark.";
  m.uri = "https://" + o.domain + "/login";
  m.chain_id = 31337;
  m.nonce = nonce;
  m.issued_at = rfc3339_now();
  const auto text = gh::eth::to_message(m);
  const auto signature = gh::eth::serialize_signature(gh::eth::sign_personal_message(*key, gh::eth::as_bytes(text)));
  json::object body{{"message", text}, {"signature", gh::eth::to_hex(signature.view())}};
  auto reply = http_client.expect(http::verb::post, "/v1/auth/verify", json::serialize(body), "", 200);
  return Account{gh::eth::to_checksum(key->address()), str(reply, "token")};
}

// ---- the sockets: one epoll loop on the receiving thread
//
// Every socket belongs to the receiving thread from its connect to its end: it connects without
// blocking, writes the upgrade request, reads the 101 answer and then server frames, all from one
// epoll loop (level-triggered EPOLLIN, one recv per readiness into the socket's own buffer). The
// other threads talk to it through post() only.

enum class Stage : std::uint8_t { idle, connecting, upgrading, open, closing, ended };

constexpr std::size_t initial_buffer = 4096;          // a message frame is ~350 bytes
constexpr std::uint64_t max_frame = 64ULL << 20;      // a larger frame is a protocol error
constexpr std::size_t max_response_head = 64 * 1024;  // the upgrade's answer

struct Sock {
  std::size_t index = 0;
  int fd = -1;
  Stage stage = Stage::idle;
  int phase = 0;                // 0 opening, 1 open (hello seen), 2 subscribing, 3 subscribed
  bool accounted = false;       // its end was counted (a close frame, an error)
  bool in_message = false;      // a fragmented message is being received
  bool watching_out = false;    // EPOLLOUT is asked for
  std::int64_t last = 0;        // the last seq received
  std::uint32_t got = 0;        // messages received
  std::uint32_t dups = 0;       // received twice or out of order
  std::unique_ptr<char[]> buf;  // bytes received and not yet parsed: [0, used)
  std::size_t capacity = 0;
  std::size_t used = 0;
  std::string out;      // bytes the kernel did not take yet (upgrade request, subscribe, pong, close)
  std::string message;  // the fragments of a fragmented message so far
  std::string token;
  std::string accept;  // the Sec-WebSocket-Accept the server must answer with
};

struct Shared {
  Options options;
  sockaddr_storage address{};
  socklen_t address_size = 0;
  std::string channel_id;
  std::vector<Sock> socks;  // sized once: the epoll entries point into it
  int epoll = -1;
  int wake = -1;  // an eventfd: post() was called
  std::mutex posted_mutex;
  std::vector<std::function<void()>> posted;
  // Written by the receiving thread, read by the main thread.
  std::atomic<std::size_t> opened{0};
  std::atomic<std::size_t> subscribed{0};
  std::atomic<std::size_t> failed{0};     // setup failures and protocol errors
  std::atomic<std::size_t> closed{0};     // subscribed sockets the server closed or dropped
  std::atomic<std::size_t> delivered{0};  // message frames of this run
  std::atomic<std::int64_t> last_frame_ns{0};
  // Receiving thread only (the main thread reads them once it has joined it).
  std::string first_error;
  std::string first_close;
  bool stopping = false;
  std::size_t next_open = 0;
  std::size_t next_subscribe = 0;
  std::size_t batch_end = 0;       // sockets from next_open up to this one are opened now
  std::size_t delivered_here = 0;  // counted, not yet added to `delivered`
  std::vector<std::uint32_t> latencies_us;
  std::mt19937 mask_rng{std::random_device{}()};
};

// Runs `fn` on the receiving thread.
void post(Shared& sh, std::function<void()> fn) {
  {
    std::lock_guard lock(sh.posted_mutex);
    sh.posted.push_back(std::move(fn));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(sh.wake, &one, sizeof one);
}

void run_posted(Shared& sh) {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(sh.wake, &count, sizeof count);
  std::vector<std::function<void()>> fns;
  {
    std::lock_guard lock(sh.posted_mutex);
    fns.swap(sh.posted);
  }
  for (auto& fn : fns) fn();
}

void open_next(Shared& sh);
void subscribe_next(Shared& sh);

void watch(Shared& sh, Sock& s, bool out) {
  epoll_event ev{};
  ev.events = static_cast<std::uint32_t>(EPOLLIN) | (out ? static_cast<std::uint32_t>(EPOLLOUT) : 0U);
  ev.data.ptr = &s;
  ::epoll_ctl(sh.epoll, EPOLL_CTL_MOD, s.fd, &ev);
  s.watching_out = out;
}

void drop_fd(Shared& sh, Sock& s) {
  if (s.fd >= 0) {
    ::epoll_ctl(sh.epoll, EPOLL_CTL_DEL, s.fd, nullptr);
    ::close(s.fd);
    s.fd = -1;
  }
  s.stage = Stage::ended;
  s.buf.reset();
  s.capacity = 0;
  s.used = 0;
  std::string().swap(s.out);
  std::string().swap(s.message);
}

// Counts the end of a socket once. Before it is subscribed, or on a protocol error, it is a failure
// (which stops the setup) and the next socket starts in its place; a subscribed socket that the
// server closes or drops is counted as closed (its missing frames count as lost).
void account_end(Shared& sh, Sock& s, const std::string& what, bool error) {
  if (s.accounted) return;
  s.accounted = true;
  if (error || s.phase != 3) {
    if (sh.first_error.empty()) sh.first_error = what + " (socket " + std::to_string(s.index) + ")";
    sh.failed.fetch_add(1, std::memory_order_relaxed);
    if (s.phase == 0) open_next(sh);
    if (s.phase == 2) subscribe_next(sh);
    return;
  }
  if (sh.first_close.empty()) sh.first_close = what + " (socket " + std::to_string(s.index) + ")";
  sh.closed.fetch_add(1, std::memory_order_relaxed);
}

void end_socket(Shared& sh, Sock& s, const std::string& what, bool error) {
  drop_fd(sh, s);
  account_end(sh, s, what, error);
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// One send; what the kernel does not take waits for EPOLLOUT. False: the connection is gone.
bool send_bytes(Shared& sh, Sock& s, std::string_view bytes) {
  if (s.fd < 0) return false;
  if (!s.out.empty()) {
    s.out.append(bytes);
    return true;
  }
  ssize_t n = 0;
  do {
    n = ::send(s.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
  const auto written = n < 0 ? std::size_t{0} : static_cast<std::size_t>(n);
  if (written < bytes.size()) {
    s.out.assign(bytes.substr(written));
    if (!s.watching_out) watch(sh, s, true);
  }
  return true;
}

// A client frame: final, masked with a fresh key (RFC 6455 5.3).
std::string client_frame(Shared& sh, std::uint8_t opcode, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 14);
  const auto n = payload.size();
  f.push_back(static_cast<char>(0x80U | opcode));
  if (n < 126) {
    f.push_back(static_cast<char>(0x80U | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80U | 126U));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
  } else {
    f.push_back(static_cast<char>(0x80U | 127U));
    for (int i = 0; i < 8; ++i) f.push_back(static_cast<char>(static_cast<std::uint64_t>(n) >> (56 - 8 * i)));
  }
  const auto key = static_cast<std::uint32_t>(sh.mask_rng());
  unsigned char mask[4];
  for (std::size_t i = 0; i < 4; ++i) mask[i] = static_cast<unsigned char>(key >> (8 * i));
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) {
    f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i % 4]));
  }
  return f;
}

// A protocol error: the close frame (1002) is our last word, then the socket goes.
bool protocol_error(Shared& sh, Sock& s, const std::string& what) {
  if (s.stage == Stage::open) {
    const char code[2] = {static_cast<char>(1002 >> 8), static_cast<char>(1002 & 0xFF)};
    send_bytes(sh, s, client_frame(sh, 0x8, std::string_view(code, 2)));
  }
  end_socket(sh, s, "protocol error: " + what, true);
  return false;
}

void grow(Sock& s, std::size_t need) {
  const auto capacity = std::max(need, s.capacity * 2);
  auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
  if (s.used > 0) std::memcpy(bigger.get(), s.buf.get(), s.used);
  s.buf = std::move(bigger);
  s.capacity = capacity;
}

// string_view::find with glibc's memmem, which does not stop at every quote of the JSON.
std::size_t find_in(std::string_view text, std::string_view needle) {
  const void* at = ::memmem(text.data(), text.size(), needle.data(), needle.size());
  return at == nullptr ? std::string_view::npos : static_cast<std::size_t>(static_cast<const char*>(at) - text.data());
}

// The body of a message frame this run posted: "wsload <index> <send time in ns>".
void on_frame(Shared& sh, Sock& s, std::string_view frame, std::int64_t now) {
  constexpr std::string_view marker = "\"body\":\"wsload ";
  const auto at = find_in(frame, marker);
  if (at != std::string_view::npos) {
    const char* end = frame.data() + frame.size();
    const auto read_int = [end](const char*& p) {
      std::int64_t v = 0;
      while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
      return v;
    };
    // Order is the channel's seq (several posters may reach the server in any order).
    constexpr std::string_view seq_key = "\"seq\":";
    const auto seq_at = find_in(frame, seq_key);
    const char* q = frame.data() + (seq_at == std::string_view::npos ? frame.size() : seq_at + seq_key.size());
    const auto seq = read_int(q);
    const char* p = frame.data() + at + marker.size();
    read_int(p);  // the message's index
    ++p;
    const auto sent = read_int(p);
    if (seq <= s.last) {
      ++s.dups;
      return;
    }
    s.last = seq;
    ++s.got;
    const auto us = (now - sent) / 1000;
    sh.latencies_us.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX)));
    ++sh.delivered_here;
    return;
  }
  if (s.phase == 0 && frame.find("\"type\":\"hello\"") != std::string_view::npos) {
    s.phase = 1;
    sh.opened.fetch_add(1, std::memory_order_relaxed);
    open_next(sh);
    return;
  }
  if (s.phase == 2) {
    if (frame.find("\"type\":\"subscribed\"") != std::string_view::npos) {
      s.phase = 3;
      sh.subscribed.fetch_add(1, std::memory_order_relaxed);
      subscribe_next(sh);
    } else if (frame.find("\"type\":\"error\"") != std::string_view::npos) {
      if (sh.first_error.empty()) sh.first_error = "subscribe refused: " + std::string(frame.substr(0, 300));
      sh.failed.fetch_add(1, std::memory_order_relaxed);
      subscribe_next(sh);
    }
  }
  // Anything else (presence, typing, a hello or subscribed out of turn) is not ours to count.
}

// One complete server frame. False when the socket ended.
bool on_ws_frame(Shared& sh, Sock& s, unsigned b0, std::string_view payload, std::int64_t now) {
  const bool fin = (b0 & 0x80U) != 0;
  const unsigned opcode = b0 & 0x0FU;
  if (opcode >= 0x8 && (!fin || payload.size() > 125)) return protocol_error(sh, s, "fragmented or long control frame");
  switch (opcode) {
    case 0x0:  // continuation
      if (!s.in_message) return protocol_error(sh, s, "continuation frame without a message");
      s.message.append(payload);
      if (s.message.size() > max_frame) return protocol_error(sh, s, "message too large");
      if (fin) {
        s.in_message = false;
        on_frame(sh, s, s.message, now);
        s.message.clear();
      }
      return true;
    case 0x1:  // text
    case 0x2:  // binary: searched the same way (no server sends one)
      if (s.in_message) return protocol_error(sh, s, "new message inside a fragmented one");
      if (fin) {
        on_frame(sh, s, payload, now);
      } else {
        s.in_message = true;
        s.message.assign(payload);
      }
      return true;
    case 0x9:  // ping: the pong carries its payload
      if (!send_bytes(sh, s, client_frame(sh, 0xA, payload))) {
        end_socket(sh, s, "write: " + errno_text(errno), false);
        return false;
      }
      return true;
    case 0xA:  // pong
      return true;
    case 0x8: {  // close: answered with its code, counted; the server then closes the connection
      if (payload.size() == 1) return protocol_error(sh, s, "close frame with a 1-byte payload");
      const unsigned code = payload.empty() ? 1005U
                                            : (static_cast<unsigned>(static_cast<unsigned char>(payload[0])) << 8) |
                                                  static_cast<unsigned char>(payload[1]);
      s.stage = Stage::closing;
      const bool sent = send_bytes(sh, s, client_frame(sh, 0x8, payload.substr(0, payload.empty() ? 0 : 2)));
      std::string what = "closed by the server with code " + std::to_string(code);
      if (payload.size() > 2) what += " (" + std::string(payload.substr(2)) + ")";
      if (!sent) {
        end_socket(sh, s, what, false);
        return false;
      }
      account_end(sh, s, what, false);
      return true;
    }
    default:
      return protocol_error(sh, s, "reserved opcode " + std::to_string(opcode));
  }
}

// Parses every complete frame in the buffer and carries a partial one over. False when the socket
// ended.
bool parse_frames(Shared& sh, Sock& s, std::int64_t now) {
  std::size_t at = 0;
  std::size_t need = 0;
  while (s.used - at >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.buf.get() + at);
    const std::size_t have = s.used - at;
    const unsigned b0 = p[0];
    const unsigned b1 = p[1];
    if ((b1 & 0x80U) != 0) return protocol_error(sh, s, "masked server frame");
    if ((b0 & 0x70U) != 0) return protocol_error(sh, s, "reserved bits set (no extension was agreed)");
    std::uint64_t length = b1 & 0x7FU;
    std::size_t header = 2;
    if (length == 126) {
      if (have < 4) break;
      length = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
      if (length < 126) return protocol_error(sh, s, "16-bit length below 126");
    } else if (length == 127) {
      if (have < 10) break;
      length = 0;
      for (std::size_t i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      header = 10;
      if (length <= 0xFFFF) return protocol_error(sh, s, "64-bit length below 65536");
    }
    if (length > max_frame) return protocol_error(sh, s, "frame of " + std::to_string(length) + " bytes");
    const std::size_t total = header + static_cast<std::size_t>(length);
    if (have < total) {
      need = total;
      break;
    }
    const std::string_view payload(s.buf.get() + at + header, static_cast<std::size_t>(length));
    at += total;
    if (!on_ws_frame(sh, s, b0, payload, now)) return false;
    if (s.stage != Stage::open) {  // closing: nothing after the close frame counts
      at = s.used;
      break;
    }
  }
  if (at == s.used) {
    s.used = 0;
  } else if (at > 0) {
    std::memmove(s.buf.get(), s.buf.get() + at, s.used - at);
    s.used -= at;
  }
  if (need > s.capacity) grow(s, need);
  return true;
}

// The answer to the upgrade request; the bytes after it (the hello, often) are the first frames.
// False when the socket ended.
bool on_upgrade(Shared& sh, Sock& s) {
  const std::string_view have(s.buf.get(), s.used);
  const auto end = have.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (s.used == s.capacity) {
      if (s.capacity >= max_response_head) {
        end_socket(sh, s, "handshake: answer head too large", false);
        return false;
      }
      grow(s, s.capacity * 2);
    }
    return true;
  }
  const auto head = have.substr(0, end + 2);
  const auto status_line = head.substr(0, head.find("\r\n"));
  if (!status_line.starts_with("HTTP/1.1 101")) {
    end_socket(sh, s, "handshake: " + std::string(status_line), false);
    return false;
  }
  if (header_value(head, "sec-websocket-accept") != s.accept) {
    end_socket(sh, s, "handshake: wrong Sec-WebSocket-Accept", false);
    return false;
  }
  const auto taken = end + 4;
  std::memmove(s.buf.get(), s.buf.get() + taken, s.used - taken);
  s.used -= taken;
  s.stage = Stage::open;
  std::string().swap(s.accept);
  return true;
}

void on_readable(Shared& sh, Sock& s) {
  if (s.used == s.capacity) grow(s, s.capacity * 2);  // parse_frames grows before it fills
  const auto room = s.capacity - s.used;
  const auto n = ::recv(s.fd, s.buf.get() + s.used, room, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;  // still readable: back soon
    const auto what = (s.stage == Stage::upgrading ? "handshake: " : "read: ") + errno_text(errno);
    end_socket(sh, s, what, false);
    return;
  }
  if (n == 0) {
    end_socket(sh, s, s.stage == Stage::upgrading ? "handshake: connection closed" : "connection closed", false);
    return;
  }
  s.used += static_cast<std::size_t>(n);
  const auto now = now_ns();
  sh.last_frame_ns.store(now, std::memory_order_relaxed);
  if (s.stage == Stage::upgrading && !on_upgrade(sh, s)) return;
  if (s.stage == Stage::open) {
    parse_frames(sh, s, now);
  } else if (s.stage == Stage::closing) {
    s.used = 0;  // read until the server closes the connection
  }
}

void on_writable(Shared& sh, Sock& s) {
  if (!s.out.empty()) {
    const auto n = ::send(s.fd, s.out.data(), s.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        end_socket(sh, s, "write: " + errno_text(errno), false);
      return;
    }
    s.out.erase(0, static_cast<std::size_t>(n));
  }
  if (s.out.empty()) {
    std::string().swap(s.out);
    watch(sh, s, false);
  }
}

// The connection is made (or refused): the upgrade request goes out.
void on_connected(Shared& sh, Sock& s) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  if (error != 0) {
    end_socket(sh, s, "connect: " + errno_text(error), false);
    return;
  }
  s.stage = Stage::upgrading;
  websocket::detail::sec_ws_key_type key;
  websocket::detail::make_sec_ws_key(key);
  websocket::detail::sec_ws_accept_type accept;
  websocket::detail::make_sec_ws_accept(accept, beast::string_view(key.data(), key.size()));
  s.accept.assign(accept.data(), accept.size());
  const auto& o = sh.options;
  const std::string request =
      "GET /v1/ws?token=" + s.token + " HTTP/1.1\r\nHost: " + o.host + ":" + o.port +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + std::string(key.data(), key.size()) +
      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (!send_bytes(sh, s, request)) {
    end_socket(sh, s, "handshake: " + errno_text(errno), false);
    return;
  }
  if (s.out.empty()) watch(sh, s, false);
}

void on_event(Shared& sh, Sock& s, std::uint32_t events) {
  if (s.fd < 0) return;
  if (s.stage == Stage::connecting) {
    on_connected(sh, s);
    return;
  }
  if ((events & static_cast<std::uint32_t>(EPOLLOUT)) != 0) on_writable(sh, s);
  if (s.fd >= 0 && (events & static_cast<std::uint32_t>(EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) on_readable(sh, s);
}

void start_socket(Shared& sh, Sock& s) {
  s.fd = ::socket(sh.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    end_socket(sh, s, "socket: " + errno_text(errno), false);
    return;
  }
  const int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s.buf = std::make_unique_for_overwrite<char[]>(initial_buffer);
  s.capacity = initial_buffer;
  s.used = 0;
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&sh.address), sh.address_size) != 0 && errno != EINPROGRESS) {
    end_socket(sh, s, "connect: " + errno_text(errno), false);
    return;
  }
  s.stage = Stage::connecting;
  epoll_event ev{};
  ev.events = static_cast<std::uint32_t>(EPOLLIN | EPOLLOUT);
  ev.data.ptr = &s;
  ::epoll_ctl(sh.epoll, EPOLL_CTL_ADD, s.fd, &ev);
  s.watching_out = true;
}

// Keeps at most in_flight sockets opening: each hello (or failure) starts the next one.
void open_next(Shared& sh) {
  if (sh.next_open < sh.batch_end) start_socket(sh, sh.socks[sh.next_open++]);
}

void subscribe_next(Shared& sh) {
  while (sh.next_subscribe < sh.batch_end) {
    Sock& s = sh.socks[sh.next_subscribe++];
    if (s.phase != 1 || s.stage != Stage::open) continue;  // did not open
    s.phase = 2;
    const std::string text = "{\"type\":\"subscribe\",\"channel_ids\":[\"" + sh.channel_id + "\"]}";
    if (!send_bytes(sh, s, client_frame(sh, 0x1, text))) {
      end_socket(sh, s, "subscribe: " + errno_text(errno), false);  // starts the next one
    }
    return;
  }
}

void receive_loop(Shared& sh) {
  std::vector<epoll_event> events(1024);
  while (!sh.stopping) {
    const int n = ::epoll_wait(sh.epoll, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait: " + errno_text(errno));
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
      if (events[i].data.ptr == nullptr) {
        run_posted(sh);
      } else {
        on_event(sh, *static_cast<Sock*>(events[i].data.ptr), events[i].events);
      }
    }
    if (sh.delivered_here > 0) {
      sh.delivered.fetch_add(sh.delivered_here, std::memory_order_relaxed);
      sh.delivered_here = 0;
    }
  }
}

// Polls `done` every few milliseconds until it holds or `timeout` passes; false on timeout.
template <class F>
bool wait_until(F done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::uint32_t percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(
      std::min<double>(static_cast<double>(v.size() - 1), std::floor(p * static_cast<double>(v.size() - 1))));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Shared sh;
  sh.options = parse_options(argc, argv);
  const auto& o = sh.options;
  rlimit fds{};
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fds);
  }
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < o.sockets + 64) {
    fail("open files limited to " + std::to_string(fds.rlim_cur) + ": raise ulimit -n above " +
         std::to_string(o.sockets + 64));
  }

  // Setup: accounts, a community with a channel, every account a member.
  HttpClient setup(o.host, o.port);
  std::vector<Account> accounts;
  Account sender;
  std::mt19937_64 rng(std::random_device{}());
  const auto setup_start = Clock::now();
  if (o.reference) {
    sh.channel_id = "bench";
    sender.token = "sender";
    for (std::size_t i = 0; i < o.accounts; ++i) accounts.push_back({"", "reader" + std::to_string(i)});
  } else {
    sender = sign_in(setup, o, rng);
    const auto slug = "ws-bench-" + std::to_string(rng() % 1'000'000'000);
    json::object community{{"name", "Gateway bench"}, {"slug", slug}};
    auto created = setup.expect(http::verb::post, "/v1/communities", json::serialize(community), sender.token, 201);
    const auto community_id = str(created, "id");
    json::object channel{{"name", "firehose"}};
    auto ch = setup.expect(http::verb::post, "/v1/communities/" + community_id + "/channels", json::serialize(channel),
                           sender.token, 201);
    sh.channel_id = str(ch, "id");
    if (o.thread) {
      // A thread started on its own in the channel: what its messages cost beside a channel's.
      json::object thread{{"name", "firehose thread"}};
      auto t = setup.expect(http::verb::post, "/v1/channels/" + sh.channel_id + "/threads", json::serialize(thread),
                            sender.token, 201);
      sh.channel_id = str(t, "id");
    }
    for (std::size_t i = 0; i < o.accounts; ++i) {
      accounts.push_back(sign_in(setup, o, rng));
      setup.expect(http::verb::post, "/v1/communities/" + community_id + "/join", "{}", accounts.back().token, 200);
    }
  }
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup_start).count();

  {
    asio::io_context io;
    tcp::resolver resolver(io);
    const tcp::endpoint endpoint = *resolver.resolve(o.host, o.port).begin();
    std::memcpy(&sh.address, endpoint.data(), endpoint.size());
    sh.address_size = static_cast<socklen_t>(endpoint.size());
  }
  sh.socks = std::vector<Sock>(o.sockets);
  for (std::size_t i = 0; i < o.sockets; ++i) {
    sh.socks[i].index = i;
    sh.socks[i].token = accounts[i % accounts.size()].token;
  }
  sh.latencies_us.reserve(o.sockets * o.messages);
  sh.epoll = ::epoll_create1(EPOLL_CLOEXEC);
  sh.wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (sh.epoll < 0 || sh.wake < 0) fail("epoll: " + errno_text(errno));
  {
    epoll_event ev{};
    ev.events = static_cast<std::uint32_t>(EPOLLIN);
    ev.data.ptr = nullptr;  // post() was called
    ::epoll_ctl(sh.epoll, EPOLL_CTL_ADD, sh.wake, &ev);
  }

  const auto rss_before = rss_bytes(o.pid);
  std::thread receiver([&] { receive_loop(sh); });

  // Opens sockets [sh.batch_end, end) (at most in_flight handshakes at once), then subscribes them
  // the same way, then waits for the setup's own traffic (presence frames) to stop.
  const auto open_batch = [&](std::size_t end) {
    post(sh, [&sh, end, n = o.in_flight] {
      sh.batch_end = end;
      for (std::size_t i = 0; i < n; ++i) open_next(sh);
    });
    const auto all_open = [&] { return sh.opened.load() + sh.failed.load() >= end; };
    if (!wait_until(all_open, std::chrono::seconds(120)) || sh.failed.load() > 0) {
      post(sh, [&] {
        fail("opened " + std::to_string(sh.opened.load()) + " of " + std::to_string(end) + " sockets; " +
             sh.first_error);
      });
      receiver.join();
    }
    post(sh, [&sh, n = o.in_flight] {
      for (std::size_t i = 0; i < n; ++i) subscribe_next(sh);
    });
    const auto all_subscribed = [&] { return sh.subscribed.load() + sh.failed.load() >= end; };
    if (!wait_until(all_subscribed, std::chrono::seconds(180)) || sh.failed.load() > 0) {
      post(sh, [&] {
        fail("subscribed " + std::to_string(sh.subscribed.load()) + " of " + std::to_string(end) + " sockets; " +
             sh.first_error);
      });
      receiver.join();
    }
    sh.last_frame_ns.store(now_ns());
    wait_until([&] { return now_ns() - sh.last_frame_ns.load() > 500'000'000; }, std::chrono::seconds(30));
  };
  // Half the sockets first: the RSS between half and all is the cost of one more idle socket,
  // free of what the first ones warm up once (database caches, allocator arenas).
  const auto open_start = Clock::now();
  const std::size_t half = o.sockets / 2;
  if (half > 0) open_batch(half);
  const auto rss_half = rss_bytes(o.pid);
  open_batch(o.sockets);
  const double open_s = std::chrono::duration<double>(Clock::now() - open_start).count();
  const auto rss_idle = rss_bytes(o.pid);
  const auto idle_cpu_start = cpu_us(o.pid);
  const auto idle_start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));  // a measurement window
  const auto idle_cpu = cpu_us(o.pid) - idle_cpu_start;
  const double idle_s = std::chrono::duration<double>(Clock::now() - idle_start).count();

  // Busy: the poster sends M messages at the steady rate; the main thread samples the server's RSS.
  const std::size_t frames_before = sh.delivered.load();
  const auto busy_cpu_start = cpu_us(o.pid);
  const auto self_cpu_start = self_cpu_us();
  std::atomic<bool> posting{true};
  std::atomic<std::size_t> post_errors{0};
  std::vector<std::uint32_t> post_us;
  post_us.reserve(o.messages);
  std::string post_error;
  const auto busy_start = Clock::now();
  // Several posters, each with its own connection, so that a slow response never delays the
  // next send: message i leaves at busy_start + i / rate whatever the server's response time.
  const std::size_t poster_count = std::min<std::size_t>(4, o.messages);
  std::vector<std::vector<std::uint32_t>> post_times(poster_count);
  std::vector<std::string> post_failures(poster_count);
  std::atomic<std::size_t> posters_left{poster_count};
  const auto run = std::to_string(rng() % 1'000'000'000);
  std::vector<std::thread> posters;
  for (std::size_t t = 0; t < poster_count; ++t) {
    posters.emplace_back([&, t] {
      HttpClient client(o.host, o.port);
      const auto interval = std::chrono::duration<double>(1.0 / o.rate);
      for (std::size_t i = t; i < o.messages; i += poster_count) {
        std::this_thread::sleep_until(busy_start +
                                      std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i)));
        const auto sent = now_ns();
        const std::string body = "{\"body\":\"wsload " + std::to_string(i) + " " + std::to_string(sent) +
                                 "\",\"client_id\":\"wsload-" + run + "-" + std::to_string(i) + "\"}";
        auto reply =
            client.request(http::verb::post, "/v1/channels/" + sh.channel_id + "/messages", body, sender.token);
        post_times[t].push_back(static_cast<std::uint32_t>((now_ns() - sent) / 1000));
        if (reply.status != 201) {
          if (post_failures[t].empty())
            post_failures[t] = std::to_string(reply.status) + " " + reply.body.substr(0, 200);
          post_errors.fetch_add(1);
        }
      }
      if (posters_left.fetch_sub(1) == 1) posting.store(false);
    });
  }
  std::int64_t rss_busy = rss_idle;
  const std::size_t expected = o.sockets * o.messages;
  auto sample = [&] { rss_busy = std::max(rss_busy, rss_bytes(o.pid)); };
  while (posting.load()) {
    sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& p : posters) p.join();
  for (std::size_t t = 0; t < poster_count; ++t) {
    post_us.insert(post_us.end(), post_times[t].begin(), post_times[t].end());
    if (post_error.empty()) post_error = post_failures[t];
  }
  const double post_s = std::chrono::duration<double>(Clock::now() - busy_start).count();
  // Every frame in, or no progress for drain_seconds.
  auto progress = sh.delivered.load();
  auto progress_at = Clock::now();
  while (sh.delivered.load() - frames_before < expected) {
    sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (sh.delivered.load() != progress) {
      progress = sh.delivered.load();
      progress_at = Clock::now();
    } else if (Clock::now() - progress_at > std::chrono::duration<double>(o.drain_seconds)) {
      break;
    }
  }
  sample();
  const auto busy_cpu = cpu_us(o.pid) - busy_cpu_start;
  const auto load_after = load_average();
  const auto self_cpu = self_cpu_us() - self_cpu_start;
  const double busy_s = std::chrono::duration<double>(Clock::now() - busy_start).count();

  // Stop the receiver before reading its state.
  post(sh, [&sh] { sh.stopping = true; });
  receiver.join();
  std::size_t dups = 0;
  for (const auto& s : sh.socks) dups += s.dups;
  // Not in the JSON line (its fields stay as the driver reads them): sockets that ended after
  // subscribing, and protocol errors; their frames are counted as lost.
  if (sh.closed.load() > 0) {
    std::fprintf(stderr, "ws_load: %zu subscribed sockets ended; the first: %s\n", sh.closed.load(),
                 sh.first_close.c_str());
  }
  if (sh.failed.load() > 0) {
    std::fprintf(stderr, "ws_load: %zu sockets failed; the first: %s\n", sh.failed.load(), sh.first_error.c_str());
  }
  const std::size_t delivered = sh.delivered.load() - frames_before;
  auto& lat = sh.latencies_us;
  const auto p50 = percentile(lat, 0.50);
  const auto p99 = percentile(lat, 0.99);
  const auto max = lat.empty() ? 0U : *std::max_element(lat.begin(), lat.end());
  const auto p50_post = percentile(post_us, 0.50);
  const auto p99_post = percentile(post_us, 0.99);

  json::object out{
      {"server", o.reference ? "reference" : "gatehouse"},
      {"sockets", o.sockets},
      {"accounts", o.accounts},
      {"messages", o.messages},
      {"rate", o.rate},
      {"expected_frames", expected},
      {"delivered_frames", delivered},
      {"lost_frames", expected >= delivered ? expected - delivered : 0},
      {"duplicate_frames", dups},
      {"post_errors", post_errors.load()},
      {"latency_p50_us", p50},
      {"latency_p99_us", p99},
      {"latency_max_us", max},
      {"post_p50_us", p50_post},
      {"post_p99_us", p99_post},
      {"rss_before_bytes", rss_before},
      {"rss_idle_bytes", rss_idle},
      {"rss_busy_bytes", rss_busy},
      {"rss_half_bytes", rss_half},
      {"idle_bytes_per_socket", static_cast<double>(rss_idle - rss_before) / static_cast<double>(o.sockets)},
      {"marginal_idle_bytes_per_socket",
       static_cast<double>(rss_idle - rss_half) / static_cast<double>(o.sockets - half)},
      {"busy_bytes_per_socket", static_cast<double>(rss_busy - rss_before) / static_cast<double>(o.sockets)},
      {"idle_cpu_us_per_s", static_cast<double>(idle_cpu) / idle_s},
      {"busy_cpu_us", busy_cpu},
      {"cpu_us_per_frame", delivered ? static_cast<double>(busy_cpu) / static_cast<double>(delivered) : 0.0},
      {"loadgen_cpu_us_per_frame", delivered ? static_cast<double>(self_cpu) / static_cast<double>(delivered) : 0.0},
      {"load_average", load_after},
      {"setup_s", setup_s},
      {"open_s", open_s},
      {"post_s", post_s},
      {"busy_s", busy_s},
  };
  if (!post_error.empty()) out["post_error"] = post_error;
  std::printf("%s\n", json::serialize(out).c_str());
  std::fflush(stdout);
  std::_Exit(0);  // thousands of sockets: the kernel closes them faster than their destructors
}
