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
// The receiving side is one thread running every socket with plain completion handlers and no JSON
// parsing per frame (a substring search for the body), so that the generator costs little next to
// the server; the poster is a second thread with one keep-alive HTTP connection.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
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
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "eth/address.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/secp256k1.hpp"
#include "eth/siwe.hpp"

namespace {

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
           " (--url --pid --sockets --messages --rate --accounts --reference --domain --in-flight "
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

// ---- the sockets

struct Shared;

struct Sock {
  Sock(asio::io_context& io, Shared& owner, std::size_t at) : ws(io), shared(owner), index(at) {}
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buffer;
  Shared& shared;
  std::size_t index;
  std::string token;
  std::string out;         // the subscribe frame being written
  int phase = 0;           // 0 opening, 1 open (hello seen), 2 subscribing, 3 subscribed
  std::int64_t last = 0;   // the last seq received
  std::uint32_t got = 0;   // messages received
  std::uint32_t dups = 0;  // received twice or out of order
};

struct Shared {
  Options options;
  asio::io_context io;
  tcp::endpoint endpoint;
  std::string channel_id;
  std::vector<std::unique_ptr<Sock>> socks;
  // Written by the receiving thread, read by the main thread.
  std::atomic<std::size_t> opened{0};
  std::atomic<std::size_t> subscribed{0};
  std::atomic<std::size_t> failed{0};
  std::atomic<std::size_t> frames{0};     // every frame received
  std::atomic<std::size_t> delivered{0};  // message frames of this run
  std::atomic<std::int64_t> last_frame_ns{0};
  std::string first_error;  // receiving thread only until it stops
  // Receiving thread only.
  std::size_t next_open = 0;
  std::size_t next_subscribe = 0;
  std::size_t batch_end = 0;  // sockets from next_open up to this one are opened now
  std::vector<std::uint32_t> latencies_us;
};

void read_next(Sock* s);

void failed(Sock* s, std::string_view what, const beast::error_code& ec) {
  if (s->shared.first_error.empty()) {
    s->shared.first_error = std::string(what) + " (socket " + std::to_string(s->index) + "): " + ec.message();
  }
  s->shared.failed.fetch_add(1, std::memory_order_relaxed);
}

void open_next(Shared& sh);
void subscribe_next(Shared& sh);

// The body of a message frame this run posted: "wsload <index> <send time in ns>".
void on_frame(Sock* s, std::string_view frame, std::int64_t now) {
  auto& sh = s->shared;
  sh.frames.fetch_add(1, std::memory_order_relaxed);
  sh.last_frame_ns.store(now, std::memory_order_relaxed);
  constexpr std::string_view marker = "\"body\":\"wsload ";
  const auto at = frame.find(marker);
  if (at != std::string_view::npos) {
    const char* end = frame.data() + frame.size();
    const auto read_int = [end](const char*& p) {
      std::int64_t v = 0;
      while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
      return v;
    };
    // Order is the channel's seq (several posters may reach the server in any order).
    constexpr std::string_view seq_key = "\"seq\":";
    const auto seq_at = frame.find(seq_key);
    const char* q = frame.data() + (seq_at == std::string_view::npos ? frame.size() : seq_at + seq_key.size());
    const auto seq = read_int(q);
    const char* p = frame.data() + at + marker.size();
    read_int(p);  // the message's index
    ++p;
    const auto sent = read_int(p);
    if (seq <= s->last) {
      ++s->dups;
      return;
    }
    s->last = seq;
    ++s->got;
    const auto us = (now - sent) / 1000;
    sh.latencies_us.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX)));
    sh.delivered.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (s->phase == 0 && frame.find("\"type\":\"hello\"") != std::string_view::npos) {
    s->phase = 1;
    sh.opened.fetch_add(1, std::memory_order_relaxed);
    open_next(sh);
    return;
  }
  if (s->phase == 2) {
    if (frame.find("\"type\":\"subscribed\"") != std::string_view::npos) {
      s->phase = 3;
      sh.subscribed.fetch_add(1, std::memory_order_relaxed);
      subscribe_next(sh);
    } else if (frame.find("\"type\":\"error\"") != std::string_view::npos) {
      if (sh.first_error.empty()) sh.first_error = "subscribe refused: " + std::string(frame.substr(0, 300));
      sh.failed.fetch_add(1, std::memory_order_relaxed);
      subscribe_next(sh);
    }
  }
}

void read_next(Sock* s) {
  s->ws.async_read(s->buffer, [s](const beast::error_code& ec, std::size_t) {
    if (ec) {
      if (s->phase == 3) return;
      failed(s, "read", ec);
      if (s->phase == 0) open_next(s->shared);
      if (s->phase == 2) subscribe_next(s->shared);
      return;
    }
    const auto data = s->buffer.cdata();
    on_frame(s, std::string_view(static_cast<const char*>(data.data()), data.size()), now_ns());
    s->buffer.consume(s->buffer.size());
    read_next(s);
  });
}

void start_socket(Sock* s) {
  auto& sh = s->shared;
  s->ws.next_layer().async_connect(sh.endpoint, [s](const beast::error_code& ec) {
    if (ec) {
      failed(s, "connect", ec);
      open_next(s->shared);
      return;
    }
    s->ws.next_layer().socket().set_option(tcp::no_delay(true));
    s->ws.next_layer().expires_never();
    websocket::permessage_deflate deflate;
    deflate.client_enable = false;
    s->ws.set_option(deflate);
    s->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    const std::string target = "/v1/ws?token=" + s->token;
    s->ws.async_handshake(s->shared.options.host + ":" + s->shared.options.port, target,
                          [s](const beast::error_code& hec) {
                            if (hec) {
                              failed(s, "handshake", hec);
                              open_next(s->shared);
                              return;
                            }
                            read_next(s);
                          });
  });
}

// Keeps at most in_flight sockets opening: each hello (or failure) starts the next one.
void open_next(Shared& sh) {
  if (sh.next_open < sh.batch_end) start_socket(sh.socks[sh.next_open++].get());
}

void subscribe_next(Shared& sh) {
  while (sh.next_subscribe < sh.batch_end) {
    Sock* s = sh.socks[sh.next_subscribe++].get();
    if (s->phase != 1) continue;  // did not open
    s->phase = 2;
    s->out = "{\"type\":\"subscribe\",\"channel_ids\":[\"" + sh.channel_id + "\"]}";
    s->ws.async_write(asio::buffer(s->out), [s](const beast::error_code& ec, std::size_t) {
      if (ec) {
        failed(s, "subscribe", ec);
        subscribe_next(s->shared);
      }
    });
    return;
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
    for (std::size_t i = 0; i < o.accounts; ++i) {
      accounts.push_back(sign_in(setup, o, rng));
      setup.expect(http::verb::post, "/v1/communities/" + community_id + "/join", "{}", accounts.back().token, 200);
    }
  }
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup_start).count();

  tcp::resolver resolver(sh.io);
  sh.endpoint = *resolver.resolve(o.host, o.port).begin();
  sh.socks.reserve(o.sockets);
  for (std::size_t i = 0; i < o.sockets; ++i) {
    sh.socks.push_back(std::make_unique<Sock>(sh.io, sh, i));
    sh.socks.back()->token = accounts[i % accounts.size()].token;
  }
  sh.latencies_us.reserve(o.sockets * o.messages);

  const auto rss_before = rss_bytes(o.pid);
  auto work = asio::make_work_guard(sh.io);
  std::thread receiver([&] { sh.io.run(); });

  // Opens sockets [sh.batch_end, end) (at most in_flight handshakes at once), then subscribes them
  // the same way, then waits for the setup's own traffic (presence frames) to stop.
  const auto open_batch = [&](std::size_t end) {
    asio::post(sh.io, [&sh, end, n = o.in_flight] {
      sh.batch_end = end;
      for (std::size_t i = 0; i < n; ++i) open_next(sh);
    });
    const auto all_open = [&] { return sh.opened.load() + sh.failed.load() >= end; };
    if (!wait_until(all_open, std::chrono::seconds(120)) || sh.failed.load() > 0) {
      asio::post(sh.io, [&] {
        fail("opened " + std::to_string(sh.opened.load()) + " of " + std::to_string(end) + " sockets; " +
             sh.first_error);
      });
      receiver.join();
    }
    asio::post(sh.io, [&sh, n = o.in_flight] {
      for (std::size_t i = 0; i < n; ++i) subscribe_next(sh);
    });
    const auto all_subscribed = [&] { return sh.subscribed.load() + sh.failed.load() >= end; };
    if (!wait_until(all_subscribed, std::chrono::seconds(180)) || sh.failed.load() > 0) {
      asio::post(sh.io, [&] {
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
  work.reset();
  asio::post(sh.io, [&] { sh.io.stop(); });
  receiver.join();
  std::size_t dups = 0;
  for (const auto& s : sh.socks) dups += s->dups;
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
