#include "eth/siwe.hpp"

#include <algorithm>
#include <array>

#include "eth/hex.hpp"

namespace gh::eth {
namespace {

// The grammar is @spruceid/siwe-parser v3's ABNF as APG runs it: alternatives are ordered (first
// success wins), repetitions are greedy and never give back, and a few callbacks turn a syntactic
// match into a failure (IPv4 octets above 255, the IPv6 group count). Errors that the reference
// records while parsing go on in order; the first one decides the failure kind. Mirroring that
// exactly is what lets the conformance vectors compare failure kinds one to one.

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_scheme_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}
// %d33 / %d36 / %d38-46 / %d59 / %d61 / %d95 / %d126: sub-delims and unreserved marks of reg-name.
bool is_reg_mark(char c) {
  return c == '!' || c == '$' || (c >= '&' && c <= '.') || c == ';' || c == '=' || c == '_' || c == '~';
}
// The statement's characters: printable ASCII except " % < > \ ^ ` { | } (siwe's ABNF).
bool is_statement_char(char c) {
  return is_alpha(c) || is_digit(c) || c == ' ' || c == '!' || c == '#' || c == '$' || (c >= '&' && c <= ';') ||
         c == '=' || c == '?' || c == '@' || c == '[' || c == ']' || c == '_' || c == '~';
}
char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : m_text(text) {}

  /// The chain id digits as written.
  std::string_view chain_text() const { return m_chain_text; }

  Expected<SiweMessage, SiweErrc> run() {
    const bool matched = message();
    if (m_error) return *m_error;
    if (!matched || m_pos != m_text.size()) return SiweErrc::malformed;
    return std::move(m_msg);
  }

 private:
  // ---- primitives -------------------------------------------------------------------------
  bool at_end() const { return m_pos >= m_text.size(); }
  char peek(std::size_t ahead = 0) const { return m_pos + ahead < m_text.size() ? m_text[m_pos + ahead] : '\0'; }
  bool lit(std::string_view s) {  // case-sensitive (%s"...")
    if (m_text.substr(m_pos, s.size()) != s) return false;
    m_pos += s.size();
    return true;
  }
  bool lit_ci(std::string_view s) {  // ABNF quoted strings are case-insensitive
    if (m_text.size() - m_pos < s.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (lower(m_text[m_pos + i]) != lower(s[i])) return false;
    }
    m_pos += s.size();
    return true;
  }
  bool ch(char c) {
    if (at_end() || m_text[m_pos] != c) return false;
    ++m_pos;
    return true;
  }
  template <class Pred>
  std::size_t many(Pred pred, std::size_t max = static_cast<std::size_t>(-1)) {
    std::size_t n = 0;
    while (n < max && !at_end() && pred(m_text[m_pos])) {
      ++m_pos;
      ++n;
    }
    return n;
  }
  std::string_view since(std::size_t start) const { return m_text.substr(start, m_pos - start); }
  void record(SiweErrc code) {
    if (!m_error) m_error = code;
  }

  bool pct_encoded() {
    if (peek() == '%' && is_hex(peek(1)) && is_hex(peek(2))) {
      m_pos += 3;
      return true;
    }
    return false;
  }
  // One element of a repetition over a character class that also admits pct-encoded.
  template <class Pred>
  void many_pct(Pred pred) {
    for (;;) {
      if (!at_end() && pred(m_text[m_pos])) {
        ++m_pos;
      } else if (!pct_encoded()) {
        return;
      }
    }
  }
  static bool is_reg_char(char c) { return is_alpha(c) || is_digit(c) || is_reg_mark(c); }
  static bool is_userinfo_char(char c) { return is_reg_char(c) || c == ':'; }
  static bool is_pchar(char c) { return is_reg_char(c) || c == ':' || c == '@'; }

  // ---- RFC 3986 as siwe's grammar has it ----------------------------------------------------
  bool scheme() {
    if (!is_alpha(peek())) return false;
    ++m_pos;
    many(is_scheme_char);
    return true;
  }
  // dec-octet = *3DIGIT, failing above 255 (an empty octet matches, as in the reference).
  bool dec_octet() {
    const std::size_t start = m_pos;
    many(is_digit, 3);
    unsigned value = 0;
    for (char c : since(start)) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 255) {
      m_pos = start;
      return false;
    }
    return true;
  }
  bool ipv4() {
    const std::size_t start = m_pos;
    for (int i = 0; i < 4; ++i) {
      if ((i > 0 && !ch('.')) || !dec_octet()) {
        m_pos = start;
        return false;
      }
    }
    return true;
  }
  bool h16() { return many(is_hex, 4) > 0; }
  bool h16_not_dot() {  // h16n: 1*4HEXDIG !"."
    const std::size_t start = m_pos;
    if (!h16() || peek() == '.') {
      m_pos = start;
      return false;
    }
    return true;
  }
  bool colon_h16(bool not_dot) {  // h16c / h16cn
    const std::size_t start = m_pos;
    if (!ch(':') || !h16() || (not_dot && peek() == '.')) {
      m_pos = start;
      return false;
    }
    return true;
  }
  // (h16n *h16cn) [":" IPv4address]; counts groups, reports whether an IPv4 tail matched.
  bool groups_then_ipv4(unsigned& count, bool& saw_ipv4) {
    if (!h16_not_dot()) return false;
    ++count;
    while (colon_h16(true)) ++count;
    const std::size_t before = m_pos;
    if (ch(':') && ipv4()) {
      saw_ipv4 = true;
    } else {
      m_pos = before;
    }
    return true;
  }
  bool ipv6() {
    const std::size_t start = m_pos;
    {  // nodcolon: exactly 8 groups, or 6 and an IPv4 tail
      unsigned count = 0;
      bool saw_ipv4 = false;
      if (groups_then_ipv4(count, saw_ipv4) && (saw_ipv4 ? count == 6 : count == 8)) return true;
      m_pos = start;
    }
    {  // dcolon: [h16 *h16c] "::" (groups [":" IPv4] / [IPv4]), fewer groups than nodcolon
      unsigned count = 0;
      bool saw_ipv4 = false;
      if (h16()) {
        ++count;
        while (colon_h16(false)) ++count;
      }
      if (lit("::")) {
        if (!groups_then_ipv4(count, saw_ipv4)) {
          if (ipv4()) saw_ipv4 = true;
        }
        if (saw_ipv4 ? count < 6 : count < 8) return true;
      }
      m_pos = start;
    }
    return false;
  }
  bool ipv_future() {
    const std::size_t start = m_pos;
    if (lit_ci("v") && many(is_hex) > 0 && ch('.') && many([](char c) { return is_reg_char(c) || c == ':'; }) > 0) {
      return true;
    }
    m_pos = start;
    return false;
  }
  bool ip_literal() {
    const std::size_t start = m_pos;
    if (ch('[') && (ipv6() || ipv_future()) && ch(']')) return true;
    m_pos = start;
    return false;
  }
  // host = IP-literal / (IPv4address !reg-name-char) / reg-name. The IPv4 branch never changes
  // what is consumed (its characters are reg-name characters), so only the other two matter.
  void host() {
    if (ip_literal()) return;
    many_pct(is_reg_char);
  }
  void authority() {
    const std::size_t start = m_pos;
    many_pct(is_userinfo_char);
    if (!ch('@')) m_pos = start;
    host();
    if (ch(':')) many(is_digit);
  }
  void path_abempty() {
    while (ch('/')) many_pct(is_pchar);
  }
  // URI = scheme ":" hier-part ["?" query] ["#" fragment]; false with m_pos restored on failure.
  bool uri(bool record_errors) {
    const std::size_t start = m_pos;
    if (!scheme()) {
      if (record_errors) record(SiweErrc::uri_invalid);
      return false;
    }
    if (!ch(':')) {
      m_pos = start;
      return false;
    }
    if (lit("//")) {
      authority();
      path_abempty();
    } else if (ch('/')) {  // path-absolute: "/" [segment-nz *("/" segment)]
      const std::size_t seg = m_pos;
      many_pct(is_pchar);
      if (m_pos != seg) path_abempty();
    } else {  // path-rootless or path-empty
      const std::size_t seg = m_pos;
      many_pct(is_pchar);
      if (m_pos != seg) path_abempty();
    }
    const auto query_char = [](char c) { return is_pchar(c) || c == '/' || c == '?'; };
    if (ch('?')) many_pct(query_char);
    if (ch('#')) many_pct(query_char);
    return true;
  }

  // ---- RFC 3339 -----------------------------------------------------------------------------
  bool digits(std::size_t n) {
    const std::size_t start = m_pos;
    if (many(is_digit, n) != n) {
      m_pos = start;
      return false;
    }
    return true;
  }
  bool date_time() {
    const std::size_t start = m_pos;
    const bool ok = digits(4) && ch('-') && digits(2) && ch('-') && digits(2) && lit_ci("T") && digits(2) && ch(':') &&
                    digits(2) && ch(':') && digits(2) &&
                    [this] {
                      const std::size_t frac = m_pos;
                      if (ch('.') && many(is_digit) == 0) m_pos = frac;
                      return true;
                    }() &&
                    (lit_ci("Z") || ((ch('+') || ch('-')) && digits(2) && ch(':') && digits(2)));
    if (!ok) m_pos = start;
    return ok;
  }
  // A field holding a date-time.
  bool time_field(std::optional<std::string>& out) {
    const std::size_t start = m_pos;
    if (!date_time()) {
      record(SiweErrc::time_invalid);
      return false;
    }
    out = std::string(since(start));
    if (!parse_siwe_time(*out)) {
      record(SiweErrc::time_invalid);
    }
    return true;
  }

  // ---- the message --------------------------------------------------------------------------
  bool message() {
    {  // oscheme = [ALPHA *(ALPHA / DIGIT / "+" / "-" / ".") "://"]
      const std::size_t start = m_pos;
      if (scheme() && lit_ci("://")) {
        m_msg.scheme = std::string(m_text.substr(start, m_pos - start - 3));
      } else {
        m_pos = start;
      }
    }
    {
      const std::size_t start = m_pos;
      authority();
      if (m_pos == start) {
        record(SiweErrc::domain_invalid);
      } else {
        m_msg.domain = std::string(since(start));
      }
    }
    if (!lit(" wants you to sign in with your Ethereum account:") || !ch('\n')) return false;
    if (!address() || !ch('\n')) return false;
    if (!statement_block()) return false;
    if (!lit("URI: ")) return false;
    {
      const std::size_t start = m_pos;
      if (!uri(true)) {
        record(SiweErrc::uri_invalid);
        return false;
      }
      m_msg.uri = std::string(since(start));
    }
    if (!ch('\n') || !lit("Version: ")) return false;
    if (!ch('1')) {
      record(SiweErrc::version_invalid);
      return false;
    }
    if (!ch('\n') || !lit("Chain ID: ")) return false;
    const std::size_t chain_start = m_pos;
    if (many(is_digit) == 0) {
      record(SiweErrc::chain_id_invalid);
      return false;
    }
    m_chain_text = since(chain_start);
    if (!ch('\n') || !lit("Nonce: ")) return false;
    {
      const std::size_t start = m_pos;
      if (many([](char c) { return is_alpha(c) || is_digit(c); }) < 8) {
        m_pos = start;
        record(SiweErrc::nonce_invalid);
        return false;
      }
      m_msg.nonce = std::string(since(start));
    }
    if (!ch('\n') || !lit("Issued At: ")) return false;
    {
      std::optional<std::string> issued;
      if (!time_field(issued)) return false;
      m_msg.issued_at = std::move(*issued);
    }
    optional_time("\nExpiration Time: ", m_msg.expiration_time);
    optional_time("\nNot Before: ", m_msg.not_before);
    {
      const std::size_t start = m_pos;
      if (lit("\nRequest ID: ")) {
        const std::size_t id = m_pos;
        many_pct(is_pchar);
        m_msg.request_id = std::string(since(id));
      } else {
        m_pos = start;
      }
    }
    {
      const std::size_t start = m_pos;
      if (lit("\nResources:")) {
        m_msg.resources.emplace();
        for (;;) {
          const std::size_t line = m_pos;
          if (!ch('\n')) break;
          if (!lit("- ")) {
            record(SiweErrc::resources_invalid);
            m_pos = line;
            break;
          }
          const std::size_t res = m_pos;
          if (!uri(false)) {
            record(SiweErrc::resources_invalid);
            m_pos = line;
            break;
          }
          if (m_msg.resources->size() == siwe_max_resources) {
            record(SiweErrc::resources_invalid);
            return false;
          }
          m_msg.resources->emplace_back(since(res));
        }
      } else {
        m_pos = start;
      }
    }
    return true;
  }

  bool address() {
    const std::size_t start = m_pos;
    if (!lit_ci("0x") || many(is_hex, 40) != 40) {
      m_pos = start;
      record(SiweErrc::address_invalid);
      return false;
    }
    const std::string_view text = since(start);
    auto parsed = fixed_from_hex<20>(text.substr(2));
    if (parsed) m_msg.address.bytes = parsed->bytes;
    if (!parsed || text[1] != 'x' || to_checksum(m_msg.address) != text) {
      record(SiweErrc::address_invalid);
    }
    return true;
  }

  // ((LF statement LF LF) / empty-statement / (LF LF)), tried in that order.
  bool statement_block() {
    const std::size_t start = m_pos;
    if (ch('\n')) {
      const std::size_t s = m_pos;
      if (many(is_statement_char) > 0) {
        const std::string_view text = since(s);
        if (lit("\n\n")) {
          m_msg.statement = std::string(text);
          return true;
        }
      }
    }
    m_pos = start;
    if (lit("\n\n\n")) {
      m_msg.statement = std::string();
      return true;
    }
    m_pos = start;
    return lit("\n\n");
  }

  void optional_time(std::string_view title, std::optional<std::string>& out) {
    const std::size_t start = m_pos;
    if (!lit(title) || !time_field(out)) {
      m_pos = start;
      out.reset();
    }
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
  SiweMessage m_msg;
  std::optional<SiweErrc> m_error;
  std::string_view m_chain_text;  // the digits as written; their canonical form is checked later
};

Expected<std::uint64_t, SiweErrc> chain_id_value(std::string_view digits) {
  const auto invalid = [&] { return SiweErrc::chain_id_invalid; };
  if (digits.empty() || digits.size() > 16 || (digits.size() > 1 && digits[0] == '0')) return invalid();
  std::uint64_t value = 0;
  for (char c : digits) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  if (value > siwe_max_chain_id) return invalid();
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(unsigned year, unsigned month) {
  static constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

}  // namespace

Expected<SiweTime, SiweErrc> parse_siwe_time(std::string_view t) {
  const auto invalid = [&] { return SiweErrc::time_invalid; };
  const auto num = [&](std::size_t at, std::size_t n, unsigned& out) {
    out = 0;
    if (at + n > t.size()) return false;
    for (std::size_t i = at; i < at + n; ++i) {
      if (!is_digit(t[i])) return false;
      out = out * 10 + static_cast<unsigned>(t[i] - '0');
    }
    return true;
  };
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!num(0, 4, year) || t.size() < 20 || t[4] != '-' || !num(5, 2, month) || t[7] != '-' || !num(8, 2, day) ||
      lower(t[10]) != 't' || !num(11, 2, hour) || t[13] != ':' || !num(14, 2, minute) || t[16] != ':' ||
      !num(17, 2, second)) {
    return invalid();
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (t[pos] == '.') {
    ++pos;
    const std::size_t frac = pos;
    std::int64_t scale = 100;
    while (pos < t.size() && is_digit(t[pos])) {
      millis += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == frac) return invalid();
  }
  std::int64_t offset_minutes = 0;
  if (pos < t.size() && lower(t[pos]) == 'z') {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    unsigned oh = 0, om = 0;
    if (!num(pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' || !num(pos + 4, 2, om) || oh > 23 ||
        om > 59) {
      return invalid();
    }
    offset_minutes = (t[pos] == '-' ? -1 : 1) * static_cast<std::int64_t>(oh * 60 + om);
    pos += 6;
  } else {
    return invalid();
  }
  if (pos != t.size() || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return invalid();
  }
  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t seconds =
      days * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second - offset_minutes * 60;
  return SiweTime(std::chrono::milliseconds(seconds * 1000 + millis));
}

const char* to_string(SiweErrc code) noexcept {
  switch (code) {
    case SiweErrc::too_large:
      return "siwe_too_large";
    case SiweErrc::malformed:
      return "siwe_malformed";
    case SiweErrc::domain_invalid:
      return "siwe_domain_invalid";
    case SiweErrc::address_invalid:
      return "siwe_address_invalid";
    case SiweErrc::uri_invalid:
      return "siwe_uri_invalid";
    case SiweErrc::version_invalid:
      return "siwe_version_invalid";
    case SiweErrc::chain_id_invalid:
      return "siwe_chain_id_invalid";
    case SiweErrc::nonce_invalid:
      return "siwe_nonce_invalid";
    case SiweErrc::time_invalid:
      return "siwe_time_invalid";
    case SiweErrc::resources_invalid:
      return "siwe_resources_invalid";
    case SiweErrc::scheme_mismatch:
      return "siwe_scheme_mismatch";
    case SiweErrc::domain_mismatch:
      return "siwe_domain_mismatch";
    case SiweErrc::nonce_mismatch:
      return "siwe_nonce_mismatch";
    case SiweErrc::uri_mismatch:
      return "siwe_uri_mismatch";
    case SiweErrc::chain_id_mismatch:
      return "siwe_chain_id_mismatch";
    case SiweErrc::expired:
      return "siwe_expired";
    case SiweErrc::not_yet_valid:
      return "siwe_not_yet_valid";
  }
  return "siwe_malformed";
}

Expected<SiweMessage, SiweErrc> parse_siwe(std::string_view text) {
  if (text.size() > siwe_max_message_bytes) {
    return SiweErrc::too_large;
  }
  Parser parser(text);
  auto parsed = parser.run();
  if (!parsed) return parsed;
  auto chain = chain_id_value(parser.chain_text());
  if (!chain) return chain.error();
  parsed->chain_id = *chain;
  if (to_message(*parsed) != text) {
    return SiweErrc::malformed;
  }
  return parsed;
}

std::string to_message(const SiweMessage& m) {
  std::string out;
  if (m.scheme) out += *m.scheme + "://";
  out += m.domain;
  out += " wants you to sign in with your Ethereum account:\n";
  out += to_checksum(m.address);
  out += "\n\n";
  if (m.statement) out += *m.statement + "\n";
  out += "\nURI: " + m.uri;
  out += "\nVersion: " + m.version;
  out += "\nChain ID: " + std::to_string(m.chain_id);
  out += "\nNonce: " + m.nonce;
  out += "\nIssued At: " + m.issued_at;
  // siwe omits optional fields that are empty strings; so do we, to produce the same text.
  if (m.expiration_time && !m.expiration_time->empty()) out += "\nExpiration Time: " + *m.expiration_time;
  if (m.not_before && !m.not_before->empty()) out += "\nNot Before: " + *m.not_before;
  if (m.request_id && !m.request_id->empty()) out += "\nRequest ID: " + *m.request_id;
  if (m.resources) {
    out += "\nResources:";
    for (const auto& r : *m.resources) out += "\n- " + r;
  }
  return out;
}

Expected<std::string, SiweErrc> build_siwe_message(const SiweMessage& message) {
  if (message.chain_id > siwe_max_chain_id) {
    return SiweErrc::chain_id_invalid;
  }
  std::string text = to_message(message);
  auto parsed = parse_siwe(text);
  if (!parsed) return parsed.error();
  return text;
}

Expected<void, SiweErrc> validate_siwe(const SiweMessage& m, const SiweExpectations& expect) {
  if (expect.scheme && m.scheme != expect.scheme) {
    return SiweErrc::scheme_mismatch;
  }
  if (expect.domain && m.domain != *expect.domain) {
    return SiweErrc::domain_mismatch;
  }
  if (expect.nonce && m.nonce != *expect.nonce) {
    return SiweErrc::nonce_mismatch;
  }
  if (expect.uri && m.uri != *expect.uri) {
    return SiweErrc::uri_mismatch;
  }
  if (!expect.chain_ids.empty() &&
      std::find(expect.chain_ids.begin(), expect.chain_ids.end(), m.chain_id) == expect.chain_ids.end()) {
    return SiweErrc::chain_id_mismatch;
  }
  const SiweTime late = expect.now - expect.clock_skew;
  const SiweTime early = expect.now + expect.clock_skew;
  if (m.expiration_time) {
    auto expiry = parse_siwe_time(*m.expiration_time);
    if (!expiry) return expiry.error();
    if (late >= *expiry) return SiweErrc::expired;
  }
  if (m.not_before) {
    auto not_before = parse_siwe_time(*m.not_before);
    if (!not_before) return not_before.error();
    if (early < *not_before) {
      return SiweErrc::not_yet_valid;
    }
  }
  auto issued = parse_siwe_time(m.issued_at);
  if (!issued) return issued.error();
  if (expect.max_age && late - *expect.max_age > *issued) {
    return SiweErrc::expired;
  }
  if (expect.reject_future_issued_at && early < *issued) {
    return SiweErrc::not_yet_valid;
  }
  return {};
}

}  // namespace gh::eth
