// ws_floor: the floor of make bench-gateway. A fan-out server with next to nothing in it, speaking
// the frames that bench/ws_load.cpp exchanges with bench/ws_fanout_reference.mjs (hello, subscribe
// -> subscribed, a message frame with gatehouse's fields; POST /v1/channels/ID/messages): one
// thread, one epoll loop, level-triggered, no storage, no auth. A posted message is serialized and
// framed once (an unmasked server frame is the same bytes for every socket) and written to every
// subscribed socket with one plain non-blocking write(2) from the fan-out loop; only what the
// kernel does not take is kept and written when the socket becomes writable.
//
// Its server CPU per delivered frame is what one write per frame per socket over loopback TCP
// costs: Linux charges the receiver's softirq work to the sender, so it includes most of the
// receiving side of the kernel. No server that writes each frame to each socket can go below it.
//   gh_ws_floor [PORT]   (prints {"msg":"listening","port":N})
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "http_head.hpp"

namespace {

using gh::bench::header_value;

namespace json = boost::json;

struct Conn {
  int fd = -1;
  bool websocket = false;
  std::string in;   // bytes read and not yet parsed
  std::string out;  // bytes the kernel did not take yet
};

struct Channel {
  std::int64_t seq = 0;
  std::unordered_set<Conn*> sockets;
};

int g_epoll = -1;
std::unordered_map<int, std::unique_ptr<Conn>> g_conns;
std::unordered_map<std::string, Channel> g_channels;
std::vector<std::unique_ptr<Conn>> g_dead;  // dropped during this batch of events, freed after it

// The header of an unmasked final server frame; returns its size.
std::size_t frame_header(unsigned char* h, std::uint8_t opcode, std::size_t n) {
  h[0] = static_cast<unsigned char>(0x80U | opcode);
  if (n < 126) {
    h[1] = static_cast<unsigned char>(n);
    return 2;
  }
  if (n <= 0xFFFF) {
    h[1] = 126;
    h[2] = static_cast<unsigned char>(n >> 8);
    h[3] = static_cast<unsigned char>(n);
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(n) >> (56 - 8 * i));
  return 10;
}

std::string make_frame(std::uint8_t opcode, std::string_view payload) {
  unsigned char h[10];
  const auto hn = frame_header(h, opcode, payload.size());
  std::string f(reinterpret_cast<const char*>(h), hn);
  f.append(payload);
  return f;
}

void watch_out(Conn* c, bool on) {
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0U);
  ev.data.ptr = c;
  ::epoll_ctl(g_epoll, EPOLL_CTL_MOD, c->fd, &ev);
}

void drop(Conn* c) {
  if (c->fd < 0) return;
  for (auto& [id, ch] : g_channels) ch.sockets.erase(c);
  ::epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  auto it = g_conns.find(c->fd);
  g_dead.push_back(std::move(it->second));
  g_conns.erase(it);
  c->fd = -1;
}

// One write attempt; what the kernel does not take waits for EPOLLOUT. False: the peer is gone.
bool send_bytes(Conn* c, std::string_view bytes) {
  if (!c->out.empty()) {
    c->out.append(bytes);
    return true;
  }
  const auto n = ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
  const auto written = n < 0 ? std::size_t{0} : static_cast<std::size_t>(n);
  if (written < bytes.size()) {
    c->out.assign(bytes.substr(written));
    watch_out(c, true);
  }
  return true;
}

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string http_reply(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

// The fan-out: one serialization and one frame per message, one write per socket.
std::string post_message(const std::string& channel_id, std::string_view body) {
  auto& ch = g_channels[channel_id];
  const auto seq = ++ch.seq;
  boost::system::error_code ec;
  auto in = json::parse(body, ec);
  json::object message;
  char id[40];
  std::snprintf(id, sizeof id, "01JBENCHREFERENCE%09lld", static_cast<long long>(seq));
  const auto now = iso_now();
  message["id"] = id;
  message["channel_id"] = channel_id;
  message["seq"] = seq;
  message["author"] = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
  message["client_id"] = (!ec && in.is_object() && in.as_object().contains("client_id"))
                             ? in.as_object().at("client_id")
                             : json::value(nullptr);
  message["body"] =
      (!ec && in.is_object() && in.as_object().contains("body")) ? in.as_object().at("body") : json::value("");
  message["mentions"] = json::array();
  message["mention_roles"] = json::array();
  message["created_at"] = now;
  message["deleted"] = false;
  message["reactions"] = json::array();
  message["type"] = "message";
  const auto frame = make_frame(0x1, json::serialize(message));
  std::vector<Conn*> gone;
  for (auto* c : ch.sockets) {
    if (!send_bytes(c, frame)) gone.push_back(c);
  }
  for (auto* c : gone) drop(c);  // after the loop: drop() edits the set
  json::object reply{{"id", id}, {"seq", seq}, {"created_at", now}};
  return json::serialize(reply);
}

// HTTP requests until an upgrade; false when the connection is to be closed.
bool on_http(Conn* c) {
  for (;;) {
    const auto end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) return c->in.size() < 65536;
    const std::string_view head(c->in.data(), end + 2);
    const auto sp1 = head.find(' ');
    const auto sp2 = head.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return false;
    const auto method = head.substr(0, sp1);
    const auto target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto length_text = header_value(head, "content-length");
    const std::size_t length = length_text.empty() ? 0 : std::strtoul(std::string(length_text).c_str(), nullptr, 10);
    if (c->in.size() < end + 4 + length) return true;
    const std::string body = c->in.substr(end + 4, length);
    const auto key = header_value(head, "sec-websocket-key");
    if (method == "GET" && target.substr(0, 6) == "/v1/ws" && !key.empty()) {
      boost::beast::websocket::detail::sec_ws_accept_type accept;
      boost::beast::websocket::detail::make_sec_ws_accept(accept, key);
      c->in.erase(0, end + 4);
      c->websocket = true;
      std::string reply =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
          std::string(accept.data(), accept.size()) + "\r\n\r\n";
      reply += make_frame(0x1, R"({"type":"hello","session":"floor"})");
      return send_bytes(c, reply);
    }
    std::string reply;
    constexpr std::string_view prefix = "/v1/channels/";
    constexpr std::string_view suffix = "/messages";
    if (method == "POST" && target.starts_with(prefix) && target.ends_with(suffix) &&
        target.size() > prefix.size() + suffix.size()) {
      const std::string channel_id(target.substr(prefix.size(), target.size() - prefix.size() - suffix.size()));
      reply = http_reply(201, "Created", post_message(channel_id, body));
    } else if (target == "/readyz") {
      reply = http_reply(200, "OK", "");
    } else {
      reply = http_reply(404, "Not Found", "");
    }
    c->in.erase(0, end + 4 + length);
    if (!send_bytes(c, reply)) return false;
  }
}

// Client frames (masked): subscribe, ping, close. False when the connection is to be closed.
bool on_websocket(Conn* c) {
  for (;;) {
    const auto* p = reinterpret_cast<const unsigned char*>(c->in.data());
    const auto have = c->in.size();
    if (have < 2) return true;
    const auto opcode = static_cast<std::uint8_t>(p[0] & 0x0FU);
    std::uint64_t n = p[1] & 0x7FU;
    std::size_t at = 2;
    if (n == 126) {
      if (have < 4) return true;
      n = (std::uint64_t{p[2]} << 8) | p[3];
      at = 4;
    } else if (n == 127) {
      if (have < 10) return true;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
      at = 10;
    }
    if (n > 65536) return false;
    if (have < at + 4 + n) return true;
    const unsigned char* mask = p + at;
    std::string payload(c->in.data() + at + 4, n);
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4]));
    c->in.erase(0, at + 4 + n);
    if (opcode == 0x8) {
      send_bytes(c, make_frame(0x8, payload.substr(0, 2)));
      return false;
    }
    if (opcode == 0x9) {
      if (!send_bytes(c, make_frame(0xA, payload))) return false;
      continue;
    }
    if (opcode != 0x1) continue;
    boost::system::error_code ec;
    auto frame = json::parse(payload, ec);
    if (ec || !frame.is_object()) continue;
    const auto& o = frame.as_object();
    const auto* type = o.if_contains("type");
    const auto* ids = o.if_contains("channel_ids");
    if (!type || !type->is_string() || type->as_string() != "subscribe" || !ids || !ids->is_array()) continue;
    for (const auto& v : ids->as_array()) {
      if (!v.is_string()) continue;
      const std::string id(v.as_string());
      auto& ch = g_channels[id];
      ch.sockets.insert(c);
      json::object done{{"type", "subscribed"}, {"channel_id", id}, {"seq", ch.seq}};
      if (!send_bytes(c, make_frame(0x1, json::serialize(done)))) return false;
    }
  }
}

void on_readable(Conn* c) {
  char buf[16384];
  const auto n = ::recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    drop(c);
    return;
  }
  if (n < 0) return;
  c->in.append(buf, static_cast<std::size_t>(n));
  const bool keep = c->websocket ? on_websocket(c) : (on_http(c) && (!c->websocket || on_websocket(c)));
  if (!keep) drop(c);
}

void on_writable(Conn* c) {
  const auto n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) drop(c);
    return;
  }
  c->out.erase(0, static_cast<std::size_t>(n));
  if (c->out.empty()) {
    std::string().swap(c->out);
    watch_out(c, false);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGTERM, [](int) { std::_Exit(0); });
  std::signal(SIGPIPE, SIG_IGN);
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 4096) != 0) {
    std::perror("ws_floor: listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("{\"msg\":\"listening\",\"port\":%u}\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);

  g_epoll = ::epoll_create1(0);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  ::epoll_ctl(g_epoll, EPOLL_CTL_ADD, listener, &lev);
  std::vector<epoll_event> events(256);
  for (;;) {
    const int n = ::epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr);
      if (c == nullptr) {
        for (;;) {
          const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (fd < 0) break;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto conn = std::make_unique<Conn>();
          conn->fd = fd;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = conn.get();
          ::epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev);
          g_conns.emplace(fd, std::move(conn));
        }
        continue;
      }
      const auto what = events[static_cast<std::size_t>(i)].events;
      if (c->fd >= 0 && (what & EPOLLOUT)) on_writable(c);
      if (c->fd >= 0 && (what & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
    }
    g_dead.clear();
  }
}
