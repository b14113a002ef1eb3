#include "net/http_client.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace gh::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

/// Where a request goes, from its URL.
struct Target {
  bool tls = false;
  std::string host;           // without IPv6 brackets, for resolving and certificate checks
  std::string port;           // always explicit
  std::string host_header;    // host[:port] as sent in Host
  std::string path;           // origin-form: path and query
  std::string authorization;  // "Basic ..." when the URL carries user info
  std::string pool_key;
};

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<Target> parse_target(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::nullopt;
  const auto& u = *parsed;
  Target t;
  const auto scheme = u.scheme();
  if (scheme == "https") {
    t.tls = true;
  } else if (scheme != "http") {
    return std::nullopt;
  }
  if (!u.has_authority() || u.encoded_host().empty()) return std::nullopt;
  t.host = u.host_address();
  const std::string default_port = t.tls ? "443" : "80";
  t.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : default_port;
  const std::string host_text(u.encoded_host_and_port());
  t.host_header = host_text;
  t.path = std::string(u.encoded_target());
  if (t.path.empty()) t.path = "/";
  if (u.has_userinfo()) t.authorization = "Basic " + base64(std::string(u.userinfo()));
  t.pool_key = std::string(scheme) + "://" + std::string(u.encoded_host()) + ":" + t.port;
  return t;
}

HttpFailure fail(HttpErrc code, std::string message) {
  return HttpFailure{code, std::move(message)};
}

bool is_closed_connection(const error_code& ec) {
  return ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == ssl::error::stream_truncated;
}

/// Maps a socket/HTTP/TLS error of an exchange to the failure a caller can act on.
HttpFailure classify(const error_code& ec, bool header_done, bool tls) {
  if (ec == beast::error::timeout) return fail(HttpErrc::timeout, "request timed out");
  if (ec == http::error::body_limit) return fail(HttpErrc::body_too_large, "response body exceeds the limit");
  if (ec == http::error::partial_message || (header_done && is_closed_connection(ec)))
    return fail(HttpErrc::truncated_body, "connection closed inside the response body");
  if (ec == asio::error::connection_refused) return fail(HttpErrc::connection_refused, ec.message());
  if (is_closed_connection(ec))
    return fail(HttpErrc::connection_reset, "connection closed before a response: " + ec.message());
  if (ec.category() == http::make_error_code(http::error::bad_version).category())
    return fail(HttpErrc::protocol_error, ec.message());
  if (tls && ec.category() == asio::error::get_ssl_category()) return fail(HttpErrc::tls_failed, ec.message());
  return fail(HttpErrc::network, ec.message());
}

/// The read size for response bodies longer than this (or of unknown length).
constexpr std::size_t kLargeBodyRead = std::size_t{64} * 1024;

/// One kept-alive connection: plain TCP or TLS over TCP, with its read buffer.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since{};

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  /// False when the peer closed the idle connection (or sent unsolicited bytes on plain HTTP).
  bool looks_alive() {
    auto& socket = tcp().socket();
    if (!socket.is_open()) return false;
    char byte = 0;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    // TLS 1.3 servers may send session tickets after the exchange; plain HTTP must be silent.
    return tls != nullptr;
  }
};

/// The outcome of writing a request and reading its response on one connection.
struct Exchange {
  std::optional<HttpFailure> failure;
  bool nothing_received = false;  // the peer sent no byte of a response: safe to resend
  bool keep_alive = false;
  HttpResponse response;
};

template <class Stream>
Task<Exchange> exchange(Stream& stream, Connection& conn, http::request<http::string_body>& msg,
                        SteadyClock::time_point deadline, const HttpClientSettings& settings) {
  Exchange out;
  conn.tcp().expires_at(deadline);
  auto [write_ec, written] = co_await http::async_write(stream, msg, tuple_awaitable);
  (void)written;
  if (write_ec) {
    out.failure = classify(write_ec, false, conn.tls != nullptr);
    out.nothing_received = is_closed_connection(write_ec);
    co_return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(settings.max_response_body);
  parser.header_limit(settings.max_response_header);
  if (msg.method() == http::verb::head) parser.skip(true);
  auto [header_ec, header_read] = co_await http::async_read_header(stream, conn.buffer, parser, tuple_awaitable);
  (void)header_read;
  error_code read_ec = header_ec;
  if (!read_ec && !parser.is_done()) {
    // Beast reads into the buffer's spare capacity (at least 512 bytes) and the parser drains it,
    // so a small buffer would take a large body in thousands of small reads, each arming the
    // stream's timer and the reactor again. A large body is read in 64 KiB steps instead.
    const auto length = parser.content_length();
    if (!length || *length > kLargeBodyRead) conn.buffer.reserve(kLargeBodyRead);
    auto [body_ec, body_read] = co_await http::async_read(stream, conn.buffer, parser, tuple_awaitable);
    (void)body_read;
    read_ec = body_ec;
  }
  if (read_ec) {
    out.nothing_received = !parser.got_some() && conn.buffer.size() == 0 && is_closed_connection(read_ec);
    out.failure = classify(read_ec, parser.is_header_done(), conn.tls != nullptr);
    co_return out;
  }
  auto res = parser.release();
  out.keep_alive = res.keep_alive() && !res.need_eof();
  out.response.status = res.result_int();
  for (const auto& field : res)
    out.response.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  out.response.body = std::move(res.body());
  co_return out;
}

}  // namespace

const char* to_string(HttpErrc code) noexcept {
  switch (code) {
    case HttpErrc::invalid_url:
      return "invalid_url";
    case HttpErrc::resolve_failed:
      return "resolve_failed";
    case HttpErrc::connection_refused:
      return "connection_refused";
    case HttpErrc::connection_reset:
      return "connection_reset";
    case HttpErrc::timeout:
      return "timeout";
    case HttpErrc::tls_failed:
      return "tls_failed";
    case HttpErrc::truncated_body:
      return "truncated_body";
    case HttpErrc::body_too_large:
      return "body_too_large";
    case HttpErrc::protocol_error:
      return "protocol_error";
    case HttpErrc::network:
      return "network";
    case HttpErrc::forbidden_destination:
      return "forbidden_destination";
  }
  return "network";
}

Error HttpFailure::to_error() const {
  const auto kind = code == HttpErrc::invalid_url             ? ErrorKind::bad_input
                    : code == HttpErrc::forbidden_destination ? ErrorKind::forbidden
                                                              : ErrorKind::unavailable;
  return make_error(kind, std::string("upstream_") + to_string(code), message);
}

const std::string* HttpResponse::header(std::string_view name) const noexcept {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return &h.value;
  }
  return nullptr;
}

struct HttpClient::Impl {
  Impl(Executor ex, HttpClientSettings s) : executor(std::move(ex)), settings(std::move(s)) {}

  Executor executor;
  HttpClientSettings settings;

  /// The TLS context, built on the first https request: loading the CA store costs a quarter of
  /// a second, which plain-http clients (tests, local nodes) should not pay.
  ssl::context* tls_context() {
    std::call_once(tls_once, [this] {
      tls = std::make_unique<ssl::context>(ssl::context::tls_client);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      tls->set_verify_mode(ssl::verify_peer);
      error_code ec;
      tls->set_default_verify_paths(ec);
      if (ec) tls_setup_error = "cannot load the system CA store: " + ec.message();
      if (!settings.extra_ca_file.empty()) {
        tls->load_verify_file(settings.extra_ca_file, ec);
        if (ec) tls_setup_error = "cannot load CA file " + settings.extra_ca_file + ": " + ec.message();
      }
    });
    return tls_setup_error ? nullptr : tls.get();
  }
  std::once_flag tls_once;
  std::unique_ptr<ssl::context> tls;
  std::optional<std::string> tls_setup_error;

  mutable std::mutex mutex;  // guards idle and stats: requests may run on several threads
  std::unordered_map<std::string, std::deque<std::unique_ptr<Connection>>> idle;
  HttpClientStats stats;

  std::unique_ptr<Connection> take_idle(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    const auto now = SteadyClock::now();
    while (!list.empty()) {
      auto conn = std::move(list.back());  // the most recently used is the likeliest alive
      list.pop_back();
      if (now - conn->idle_since < settings.idle_timeout && conn->looks_alive()) {
        ++stats.connections_reused;
        return conn;
      }
    }
    return nullptr;
  }

  void give_back(const std::string& key, std::unique_ptr<Connection> conn) {
    conn->tcp().expires_never();
    conn->idle_since = SteadyClock::now();
    std::lock_guard lock(mutex);
    auto& list = idle[key];
    if (list.size() >= settings.max_idle_per_host) list.pop_front();
    list.push_back(std::move(conn));
  }

  Task<std::variant<std::unique_ptr<Connection>, HttpFailure>> connect(const Target& target,
                                                                       SteadyClock::time_point deadline) {
    using Out = std::variant<std::unique_ptr<Connection>, HttpFailure>;
    const auto connect_deadline = std::min(deadline, SteadyClock::now() + settings.connect_timeout);

    std::vector<tcp::endpoint> endpoints;
    error_code ec;
    const auto literal = asio::ip::make_address(target.host, ec);
    if (!ec) {
      endpoints.emplace_back(literal, static_cast<unsigned short>(std::stoul(target.port)));
    } else {
      // getaddrinfo has no deadline of its own: race it against ours.
      using namespace asio::experimental::awaitable_operators;
      tcp::resolver resolver(executor);
      asio::steady_timer timer(executor, connect_deadline);
      auto raced = co_await (resolver.async_resolve(target.host, target.port, tuple_awaitable) ||
                             timer.async_wait(tuple_awaitable));
      if (raced.index() == 1) co_return Out(fail(HttpErrc::timeout, "resolving " + target.host + " timed out"));
      auto [resolve_ec, results] = std::get<0>(std::move(raced));
      if (resolve_ec)
        co_return Out(fail(HttpErrc::resolve_failed, "cannot resolve " + target.host + ": " + resolve_ec.message()));
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }
    if (settings.outbound_policy) {
      // Checked on the very addresses we connect to: a name that resolved to a public address
      // when the URL was accepted may resolve to an internal one now.
      std::string refused;
      std::erase_if(endpoints, [&](const tcp::endpoint& e) {
        auto address = IpAddress::parse(e.address().to_string());
        if (!address) return true;
        auto allowed = check_outbound_address(*address, *settings.outbound_policy);
        if (!allowed && refused.empty()) refused = allowed.error().message;
        return !allowed;
      });
      if (endpoints.empty()) {
        co_return Out(fail(HttpErrc::forbidden_destination, refused.empty() ? "no usable address" : refused));
      }
    }

    auto conn = std::make_unique<Connection>();
    if (target.tls) {
      auto* context = tls_context();
      if (!context) co_return Out(fail(HttpErrc::tls_failed, *tls_setup_error));
      conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(executor, *context);
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(executor);
    }
    conn->tcp().expires_at(connect_deadline);
    auto [connect_ec, endpoint] = co_await conn->tcp().async_connect(endpoints, tuple_awaitable);
    (void)endpoint;
    if (connect_ec == beast::error::timeout)
      co_return Out(fail(HttpErrc::timeout, "connecting to " + target.host_header + " timed out"));
    if (connect_ec) co_return Out(classify(connect_ec, false, false));
    {
      std::lock_guard lock(mutex);
      ++stats.connections_opened;
    }
    if (!target.tls) co_return Out(std::move(conn));

    SSL* ssl_handle = conn->tls->native_handle();
    const bool host_is_ip = !ec;
    if (host_is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), target.host.c_str());
    } else {
      // SNI, then the name check OpenSSL applies during verification.
      SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               static_cast<void*>(const_cast<char*>(target.host.c_str())));
      SSL_set1_host(ssl_handle, target.host.c_str());
    }
    auto [hs_ec] = co_await conn->tls->async_handshake(ssl::stream_base::client, tuple_awaitable);
    if (hs_ec == beast::error::timeout)
      co_return Out(fail(HttpErrc::timeout, "TLS handshake with " + target.host_header + " timed out"));
    if (hs_ec) {
      std::string why = hs_ec.message();
      const long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      co_return Out(fail(HttpErrc::tls_failed, "TLS handshake with " + target.host_header + " failed: " + why));
    }
    co_return Out(std::move(conn));
  }

  static Task<HttpResult> run(std::shared_ptr<Impl> self, HttpRequest request) {
    if (self->settings.outbound_policy) {
      auto allowed = check_outbound_url(request.url, *self->settings.outbound_policy);
      if (!allowed) {
        const auto code =
            allowed.error().kind == ErrorKind::forbidden ? HttpErrc::forbidden_destination : HttpErrc::invalid_url;
        co_return fail(code, allowed.error().message);
      }
    }
    auto target = parse_target(request.url);
    if (!target) co_return fail(HttpErrc::invalid_url, "not an absolute http(s) URL");
    const auto deadline = SteadyClock::now() + request.timeout.value_or(self->settings.request_timeout);

    http::request<http::string_body> msg;
    msg.method_string(request.method);
    msg.target(target->path);
    msg.version(11);
    msg.set(http::field::host, target->host_header);
    msg.set(http::field::user_agent, self->settings.user_agent);
    if (!target->authorization.empty()) msg.set(http::field::authorization, target->authorization);
    for (const auto& h : request.headers) msg.set(h.name, h.value);
    msg.body() = std::move(request.body);
    if (!msg.body().empty() || msg.method() == http::verb::post || msg.method() == http::verb::put)
      msg.prepare_payload();

    for (int attempt = 0;; ++attempt) {
      auto conn = attempt == 0 ? self->take_idle(target->pool_key) : nullptr;
      const bool reused = conn != nullptr;
      if (!conn) {
        auto connected = co_await self->connect(*target, deadline);
        if (connected.index() == 1) co_return std::get<1>(std::move(connected));
        conn = std::get<0>(std::move(connected));
      }
      // Not a ?: of two co_awaits: GCC 12 miscompiles co_await inside a conditional expression.
      Exchange ex;
      if (conn->tls) {
        ex = co_await exchange(*conn->tls, *conn, msg, deadline, self->settings);
      } else {
        ex = co_await exchange(*conn->plain, *conn, msg, deadline, self->settings);
      }
      if (!ex.failure) {
        if (ex.keep_alive && conn->buffer.size() == 0) {
          conn->buffer.shrink_to_fit();  // an idle connection keeps no large read buffer
          self->give_back(target->pool_key, std::move(conn));
        }
        ex.response.reused_connection = reused;
        co_return std::move(ex.response);
      }
      // A kept-alive connection the server closed meanwhile: no response byte came back, so the
      // request was not processed as far as we can tell; send it once more on a fresh connection.
      if (reused && ex.nothing_received && SteadyClock::now() < deadline) continue;
      co_return std::move(*ex.failure);
    }
  }
};

HttpClient::HttpClient(Executor executor, HttpClientSettings settings)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(settings))) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Task<HttpResult> HttpClient::request(HttpRequest request) {
  // Not a coroutine itself: the state is captured now, so the task may outlive this object.
  return Impl::run(m_impl, std::move(request));
}

void HttpClient::close_idle() {
  std::lock_guard lock(m_impl->mutex);
  m_impl->idle.clear();
}

HttpClientStats HttpClient::stats() const {
  std::lock_guard lock(m_impl->mutex);
  return m_impl->stats;
}

const HttpClientSettings& HttpClient::settings() const noexcept {
  return m_impl->settings;
}

}  // namespace gh::net
