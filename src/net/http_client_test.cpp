#include "net/http_client.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include "core/testing/run_task.hpp"
#include "net/testing/loopback_server.hpp"

#include <fmt/format.h>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

namespace gh::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using testing::LoopbackServer;
using testing::Reply;

std::string ok_response(std::string_view body, bool keep_alive = true) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         (keep_alive ? "\r\n" : "\r\nConnection: close\r\n") + "\r\n" + std::string(body);
}

using gh::testing::run;

HttpRequest get(std::string url) {
  HttpRequest r;
  r.url = std::move(url);
  return r;
}

TEST(HttpClient, ReusesKeptAliveConnections) {
  LoopbackServer server([](const auto& req) { return Reply{ok_response("hello " + std::string(req.target()))}; });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  for (int i = 0; i < 3; ++i) {
    auto res = run(ioc, client.request(get(server.url("/a"))));
    ASSERT_TRUE(res) << res.failure().message;
    EXPECT_EQ(res->status, 200u);
    EXPECT_EQ(res->body, "hello /a");
    EXPECT_EQ(res->reused_connection, i > 0);
    ASSERT_NE(res->header("content-type"), nullptr);
    EXPECT_EQ(*res->header("Content-Type"), "text/plain");
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(client.stats().connections_reused, 2u);
}

TEST(HttpClient, SendsMethodHeadersAndBody) {
  std::string seen;
  LoopbackServer server([&](const auto& req) {
    seen = std::string(req.method_string()) + " " + std::string(req[http::field::content_type]) + " " +
           std::string(req[http::field::host]) + " " + req.body();
    return Reply{ok_response("{}")};
  });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  HttpRequest req = get(server.url("/rpc"));
  req.method = "POST";
  req.headers.push_back({"Content-Type", "application/json"});
  req.body = R"({"x":1})";
  auto res = run(ioc, client.request(req));
  ASSERT_TRUE(res);
  EXPECT_EQ(seen, "POST application/json " + server.url("").substr(7) + R"( {"x":1})");
}

TEST(HttpClient, ClosedConnectionIsNotReused) {
  LoopbackServer server([](const auto&) { return Reply{ok_response("bye", false), true}; });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  for (int i = 0; i < 2; ++i) {
    auto res = run(ioc, client.request(get(server.url("/"))));
    ASSERT_TRUE(res);
    EXPECT_FALSE(res->reused_connection);
  }
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, ResendsOnceWhenTheServerDroppedAnIdleConnection) {
  std::atomic<int> calls{0};
  // The server answers, keeps the connection "alive", then drops it silently on the next request.
  LoopbackServer server([&](const auto&) {
    if (calls++ == 1) return Reply{"", true};
    return Reply{ok_response("fine")};
  });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  ASSERT_TRUE(run(ioc, client.request(get(server.url("/")))));
  auto res = run(ioc, client.request(get(server.url("/"))));
  ASSERT_TRUE(res) << res.failure().message;
  EXPECT_EQ(res->body, "fine");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, TimesOutOnASilentServer) {
  LoopbackServer server([](const auto&) { return Reply{"", false, true}; });
  asio::io_context ioc;
  // The client's own deadline is ten minutes: only the request's 200 ms can end this in time.
  HttpClientSettings settings;
  settings.request_timeout = 10min;
  HttpClient client(ioc.get_executor(), settings);
  HttpRequest req = get(server.url("/silent"));
  req.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  auto res = run(ioc, client.request(req));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::timeout);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 5min);  // far from any scheduling delay, far below the client's deadline
}

TEST(HttpClient, ReportsATruncatedBody) {
  LoopbackServer server([](const auto&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", true};
  });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  auto res = run(ioc, client.request(get(server.url("/"))));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::truncated_body);
}

TEST(HttpClient, RefusesATooLargeBody) {
  LoopbackServer server([](const auto&) { return Reply{ok_response(std::string(4096, 'x'))}; });
  asio::io_context ioc;
  HttpClientSettings settings;
  settings.max_response_body = 1024;
  HttpClient client(ioc.get_executor(), settings);
  auto res = run(ioc, client.request(get(server.url("/"))));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::body_too_large);
}

TEST(HttpClient, ReadsABodyDelimitedByClose) {
  LoopbackServer server([](const auto&) {
    return Reply{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof", true};
  });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  auto res = run(ioc, client.request(get(server.url("/"))));
  ASSERT_TRUE(res) << res.failure().message;
  EXPECT_EQ(res->body, "until eof");
}

TEST(HttpClient, ReadsChunkedBodies) {
  LoopbackServer server([](const auto&) {
    return Reply{
        "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nRetry-After: "
        "2\r\n\r\n5\r\nhello\r\n0\r\n\r\n"};
  });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  auto res = run(ioc, client.request(get(server.url("/"))));
  ASSERT_TRUE(res) << res.failure().message;
  EXPECT_EQ(res->status, 503u);
  EXPECT_EQ(res->body, "hello");
  ASSERT_NE(res->header("retry-after"), nullptr);
  EXPECT_EQ(*res->header("retry-after"), "2");
}

TEST(HttpClient, ReadsLargeBodiesWholeOnAKeptAliveConnection) {
  // Past the 64 KiB mark the body is read after its header, in large reads: by length, chunked,
  // then a small answer again on the same connection.
  std::string large(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  std::string chunked_body;
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 300; ++i) {
    const std::string piece(1000 + static_cast<std::size_t>(i), static_cast<char>('A' + i % 26));
    chunked_body += piece;
    chunked += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
  }
  chunked += "0\r\n\r\n";
  LoopbackServer server([&](const auto& req) {
    if (req.target() == "/large") return Reply{ok_response(large)};
    if (req.target() == "/chunked") return Reply{chunked};
    return Reply{ok_response("small")};
  });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  for (const std::string path : {"/large", "/chunked", "/small", "/large"}) {
    auto res = run(ioc, client.request(get(server.url(path))));
    ASSERT_TRUE(res) << path << ": " << res.failure().message;
    const std::string& want = path == "/large" ? large : path == "/chunked" ? chunked_body : std::string("small");
    ASSERT_EQ(res->body.size(), want.size()) << path;
    EXPECT_TRUE(res->body == want) << path;
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, ReportsRefusedConnectionsAndBadUrls) {
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  std::string url;
  {
    // Bind then release a port: nothing listens there afterwards.
    tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    url = "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port()) + "/";
  }
  auto refused = run(ioc, client.request(get(url)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.failure().code, HttpErrc::connection_refused);
  EXPECT_EQ(refused.failure().to_error().kind, ErrorKind::unavailable);

  for (const char* bad : {"ftp://example.com/", "not a url", "http:///path", "/relative"}) {
    auto res = run(ioc, client.request(get(bad)));
    ASSERT_FALSE(res) << bad;
    EXPECT_EQ(res.failure().code, HttpErrc::invalid_url) << bad;
  }
}

TEST(HttpClient, ReportsGarbageAsAProtocolError) {
  LoopbackServer server([](const auto&) { return Reply{"SSH-2.0-OpenSSH\r\n\r\n", true}; });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  auto res = run(ioc, client.request(get(server.url("/"))));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.failure().code, HttpErrc::protocol_error);
}

TEST(HttpClient, FailsTlsAgainstAPlainServer) {
  LoopbackServer server([](const auto&) { return Reply{ok_response("plain"), true}; });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  auto url = server.url("/");
  url.replace(0, 4, "https");
  HttpRequest req = get(url);
  req.timeout = 2s;
  auto res = run(ioc, client.request(req));
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.failure().code == HttpErrc::tls_failed || res.failure().code == HttpErrc::connection_reset)
      << to_string(res.failure().code) << ": " << res.failure().message;
}

// --- TLS --------------------------------------------------------------------------------------

/// A self-signed certificate (its own CA) for the given subjectAltName, and its key, as PEM.
struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

TestCertificate make_certificate(const char* subject_alt_name) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("gatehouse test"), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair{NID_subject_alt_name, subject_alt_name}, std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  TestCertificate out{bio_text(cert_bio), bio_text(key_bio)};
  BIO_free(cert_bio);
  BIO_free(key_bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

/// A TLS HTTP/1.1 server on 127.0.0.1 answering every request with "secure"; records the SNI name.
class TlsServer {
 public:
  explicit TlsServer(const TestCertificate& cert)
      : m_tls(asio::ssl::context::tls_server), m_acceptor(m_ioc, {asio::ip::make_address("127.0.0.1"), 0}) {
    m_tls.use_certificate_chain(asio::buffer(cert.cert_pem));
    m_tls.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
    asio::co_spawn(m_ioc, accept_loop(), asio::detached);
    m_thread = std::thread([this] { m_ioc.run(); });
  }
  ~TlsServer() {
    m_ioc.stop();
    m_thread.join();
  }
  unsigned short port() const { return m_acceptor.local_endpoint().port(); }
  std::string server_name() const {
    std::lock_guard lock(m_mutex);
    return m_server_name;
  }

 private:
  Task<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await m_acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(m_ioc, session(std::move(socket)), asio::detached);
    }
  }

  Task<void> session(tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), m_tls);
    auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (hs) co_return;
    if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
      std::lock_guard lock(m_mutex);
      m_server_name = sni;
    }
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      const std::string raw = ok_response("secure");
      auto [wec, w] = co_await asio::async_write(stream, asio::buffer(raw), asio::as_tuple(asio::use_awaitable));
      if (wec) co_return;
    }
  }

  asio::io_context m_ioc;
  asio::ssl::context m_tls;
  tcp::acceptor m_acceptor;
  mutable std::mutex m_mutex;
  std::string m_server_name;
  std::thread m_thread;
};

/// Writes the certificate where HttpClientSettings::extra_ca_file can point.
std::string write_ca_file(const TestCertificate& cert, const char* tag) {
  const auto path =
      std::filesystem::temp_directory_path() / ("gh-http-ca-" + std::to_string(::getpid()) + "-" + tag + ".pem");
  std::ofstream(path) << cert.cert_pem;
  return path.string();
}

TEST(HttpClientTls, VerifiesThePeerAgainstATrustedCa) {
  const auto cert = make_certificate("IP:127.0.0.1,DNS:localhost");
  TlsServer server(cert);
  asio::io_context ioc;
  HttpClientSettings settings;
  settings.extra_ca_file = write_ca_file(cert, "trusted");
  HttpClient client(ioc.get_executor(), settings);
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (int i = 0; i < 2; ++i) {
    auto res = run(ioc, client.request(get(url)));
    ASSERT_TRUE(res) << res.failure().message;
    EXPECT_EQ(res->body, "secure");
    EXPECT_EQ(res->reused_connection, i > 0);
  }
  // By name: SNI carries it, and the certificate's DNS name matches.
  auto by_name = run(ioc, client.request(get("https://localhost:" + std::to_string(server.port()) + "/")));
  ASSERT_TRUE(by_name) << by_name.failure().message;
  EXPECT_EQ(server.server_name(), "localhost");
  std::filesystem::remove(settings.extra_ca_file);
}

TEST(HttpClientTls, RefusesAnUntrustedOrMismatchedCertificate) {
  const auto cert = make_certificate("DNS:other.example");
  TlsServer server(cert);
  asio::io_context ioc;
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";

  HttpClient system_store_only(ioc.get_executor());
  auto untrusted = run(ioc, system_store_only.request(get(url)));
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.failure().code, HttpErrc::tls_failed);

  HttpClientSettings settings;
  settings.extra_ca_file = write_ca_file(cert, "mismatch");
  HttpClient trusting(ioc.get_executor(), settings);
  auto mismatched = run(ioc, trusting.request(get(url)));
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.failure().code, HttpErrc::tls_failed);
  EXPECT_NE(mismatched.failure().message.find("mismatch"), std::string::npos) << mismatched.failure().message;
  std::filesystem::remove(settings.extra_ca_file);

  HttpClientSettings missing;
  missing.extra_ca_file = "/nonexistent/ca.pem";
  HttpClient broken(ioc.get_executor(), missing);
  auto no_ca = run(ioc, broken.request(get(url)));
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.failure().code, HttpErrc::tls_failed);
}

}  // namespace
}  // namespace gh::net
