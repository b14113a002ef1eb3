#include "eth/abi.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "core/utf8.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"

namespace gh::eth {
namespace {

constexpr std::size_t word = 32;
constexpr unsigned max_abi_type_depth = 32;
// Caps that keep head sizes far from overflow: a static type is at most 16 MiB of head.
constexpr std::size_t max_fixed_array_length = 1U << 20;
constexpr std::size_t max_static_head = 1U << 24;
// JavaScript's Number.MAX_SAFE_INTEGER, the largest offset or length ethers reads.
constexpr std::uint64_t max_index = 9007199254740991ULL;
// Bound on bytes read through aliased offsets, per byte of input. ethers allows 1024x; we allow
// less because each decoded word costs us a value object (~48 bytes): 64x keeps a hostile 100 KB
// log under ~10 MB of values, and no honest encoding reads any word twice.
constexpr std::uint64_t max_inflation = 64;

// The reasons at call sites are for their reader; a caller gets the code.
AbiErrc type_error(std::string_view /*text*/, std::size_t /*pos*/, std::string_view /*what*/) {
  return AbiErrc::type_invalid;
}

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

std::optional<unsigned> small_number(std::string_view digits) {
  if (digits.empty() || digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  unsigned v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

std::optional<AbiType> elementary(std::string_view name) {
  AbiType t;
  if (name == "address") {
    t.kind = AbiType::Kind::address;
    return t;
  }
  if (name == "bool") {
    t.kind = AbiType::Kind::bool_;
    return t;
  }
  if (name == "string") {
    t.kind = AbiType::Kind::string;
    return t;
  }
  if (name == "bytes") {
    t.kind = AbiType::Kind::bytes;
    return t;
  }
  const auto sized = [&](std::string_view prefix, AbiType::Kind kind) -> std::optional<AbiType> {
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view rest = name.substr(prefix.size());
    t.kind = kind;
    if (kind == AbiType::Kind::fixed_bytes) {
      const auto n = small_number(rest);
      if (!n || *n < 1 || *n > 32) return std::nullopt;
      t.size = *n;
      return t;
    }
    if (rest.empty()) {
      t.bits = 256;
      return t;
    }
    const auto n = small_number(rest);
    if (!n || *n < 8 || *n > 256 || *n % 8 != 0) return std::nullopt;
    t.bits = *n;
    return t;
  };
  if (auto u = sized("uint", AbiType::Kind::uint_)) return u;
  if (auto i = sized("int", AbiType::Kind::int_)) return i;
  if (auto b = sized("bytes", AbiType::Kind::fixed_bytes)) return b;
  return std::nullopt;
}

// Recursive-descent type parser over `text`, starting at `pos`.
Expected<AbiType, AbiErrc> parse_type_at(std::string_view text, std::size_t& pos, unsigned depth) {
  if (depth > max_abi_type_depth) return type_error(text, pos, "types nested too deeply");
  AbiType type;
  // ethers' human-readable form may spell a tuple "tuple(...)".
  if (text.substr(pos, 6) == "tuple(") pos += 5;
  if (pos < text.size() && text[pos] == '(') {
    type.kind = AbiType::Kind::tuple;
    ++pos;
    if (pos < text.size() && text[pos] == ')') {
      ++pos;
    } else {
      for (;;) {
        auto member = parse_type_at(text, pos, depth + 1);
        if (!member) return member;
        type.components.push_back(std::move(*member));
        if (pos < text.size() && text[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < text.size() && text[pos] == ')') {
          ++pos;
          break;
        }
        return type_error(text, pos, "expected ',' or ')'");
      }
    }
  } else {
    const std::size_t start = pos;
    while (pos < text.size() && is_ident_char(text[pos])) ++pos;
    auto base = elementary(text.substr(start, pos - start));
    if (!base) return type_error(text, start, "unknown type \"" + std::string(text.substr(start, pos - start)) + "\"");
    type = std::move(*base);
  }
  while (pos < text.size() && text[pos] == '[') {
    if (++depth > max_abi_type_depth) return type_error(text, pos, "types nested too deeply");
    const std::size_t close = text.find(']', pos);
    if (close == std::string_view::npos) return type_error(text, pos, "unclosed '['");
    const std::string_view digits = text.substr(pos + 1, close - pos - 1);
    AbiType array;
    array.kind = AbiType::Kind::array;
    if (!digits.empty()) {
      const auto n = small_number(digits);
      if (!n || *n < 1 || *n > max_fixed_array_length) return type_error(text, pos + 1, "bad array length");
      array.length = *n;
    }
    array.components.push_back(std::move(type));
    type = std::move(array);
    pos = close + 1;
  }
  if (!type.is_dynamic() && type.head_size() > max_static_head) {
    return type_error(text, pos, "static type too large");
  }
  return type;
}

// ---- encoding ------------------------------------------------------------------------------------

void put_word(Bytes& out, const U256& v) {
  const auto b = v.to_be_bytes();
  out.insert(out.end(), b.bytes.begin(), b.bytes.end());
}

AbiErrc value_error(const AbiType& /*type*/, std::string_view /*what*/) {
  return AbiErrc::value_invalid;
}

// The member types of a tuple, or one element type repeated for an array, without copying types
// once per element (an array may have as many elements as the data has words).
class TypeList {
 public:
  explicit TypeList(const std::vector<AbiType>& members) : m_types(members.data()), m_count(members.size()) {}
  TypeList(const AbiType& element, std::size_t count) : m_types(&element), m_count(count), m_repeated(true) {}
  std::size_t size() const noexcept { return m_count; }
  const AbiType& operator[](std::size_t i) const noexcept { return m_repeated ? *m_types : m_types[i]; }

 private:
  const AbiType* m_types;
  std::size_t m_count;
  bool m_repeated = false;
};

Expected<void, AbiErrc> encode_tuple(const TypeList& types, const AbiValues& values, Bytes& out);

Expected<void, AbiErrc> encode_one(const AbiType& type, const AbiValue& value, Bytes& out) {
  using K = AbiType::Kind;
  switch (type.kind) {
    case K::uint_:
    case K::int_: {
      const auto* v = std::get_if<AbiInt>(&value.data);
      if (v == nullptr) return value_error(type, "expected an integer");
      const bool negative = v->negative && !v->magnitude.is_zero();
      if (type.kind == K::uint_) {
        if (negative || v->magnitude.bit_length() > type.bits) {
          return AbiErrc::value_out_of_range;
        }
        put_word(out, v->magnitude);
      } else {
        const U256 limit = U256(1) << (type.bits - 1);  // |min| of intN
        if (negative ? v->magnitude > limit : v->magnitude >= limit) {
          return AbiErrc::value_out_of_range;
        }
        put_word(out, negative ? v->magnitude.wrapping_neg() : v->magnitude);
      }
      return {};
    }
    case K::address: {
      const auto* v = std::get_if<Address>(&value.data);
      if (v == nullptr) return value_error(type, "expected an address");
      out.insert(out.end(), 12, 0);
      out.insert(out.end(), v->bytes.begin(), v->bytes.end());
      return {};
    }
    case K::bool_: {
      const auto* v = std::get_if<bool>(&value.data);
      if (v == nullptr) return value_error(type, "expected a bool");
      put_word(out, U256(*v ? 1 : 0));
      return {};
    }
    case K::fixed_bytes: {
      const auto* v = std::get_if<Bytes>(&value.data);
      if (v == nullptr || v->size() != type.size)
        return value_error(type, "expected exactly " + std::to_string(type.size) + " bytes");
      out.insert(out.end(), v->begin(), v->end());
      out.insert(out.end(), word - v->size(), 0);
      return {};
    }
    case K::bytes:
    case K::string: {
      ByteView content;
      if (type.kind == K::bytes) {
        const auto* v = std::get_if<Bytes>(&value.data);
        if (v == nullptr) return value_error(type, "expected bytes");
        content = *v;
      } else {
        const auto* v = std::get_if<std::string>(&value.data);
        if (v == nullptr) return value_error(type, "expected a string");
        content = as_bytes(*v);
      }
      put_word(out, U256(content.size()));
      out.insert(out.end(), content.begin(), content.end());
      out.insert(out.end(), (word - content.size() % word) % word, 0);
      return {};
    }
    case K::array: {
      const auto* v = std::get_if<AbiValues>(&value.data);
      if (v == nullptr) return value_error(type, "expected an array");
      if (type.length && v->size() != *type.length) return value_error(type, "wrong number of elements");
      if (!type.length) put_word(out, U256(v->size()));
      return encode_tuple(TypeList(type.components.front(), v->size()), *v, out);
    }
    case K::tuple: {
      const auto* v = std::get_if<AbiValues>(&value.data);
      if (v == nullptr) return value_error(type, "expected a tuple");
      return encode_tuple(TypeList(type.components), *v, out);
    }
  }
  return value_error(type, "unsupported type");
}

Expected<void, AbiErrc> encode_tuple(const TypeList& types, const AbiValues& values, Bytes& out) {
  if (types.size() != values.size()) {
    return AbiErrc::value_invalid;
  }
  std::size_t head_size = 0;
  for (std::size_t i = 0; i < types.size(); ++i) head_size += types[i].head_size();
  const std::size_t start = out.size();
  out.resize(start + head_size);
  std::size_t head = start;
  Bytes encoded;
  for (std::size_t i = 0; i < types.size(); ++i) {
    encoded.clear();
    if (auto r = encode_one(types[i], values[i], encoded); !r) return r;
    if (types[i].is_dynamic()) {
      const auto offset = U256(out.size() - start).to_be_bytes();
      std::copy(offset.bytes.begin(), offset.bytes.end(), out.begin() + static_cast<std::ptrdiff_t>(head));
      out.insert(out.end(), encoded.begin(), encoded.end());
      head += word;
    } else {
      std::copy(encoded.begin(), encoded.end(), out.begin() + static_cast<std::ptrdiff_t>(head));
      head += encoded.size();
    }
  }
  return {};
}

// ---- decoding ------------------------------------------------------------------------------------

bool valid_utf8(ByteView s) {
  return gh::valid_utf8(std::string_view(reinterpret_cast<const char*>(s.data()), s.size()));
}

// Mirrors ethers' Reader: every reader sees the buffer from its start to the end of the data, reads
// are word-aligned and bounded by the end, and all reads count toward the inflation limit.
class Decoder {
 public:
  explicit Decoder(ByteView data) : m_data(data) {}

  Expected<AbiValues, AbiErrc> tuple(const TypeList& types, std::size_t& pos, unsigned depth) {
    const std::size_t base = pos;
    AbiValues out;
    out.reserve(types.size());
    for (std::size_t i = 0; i < types.size(); ++i) {
      const AbiType& t = types[i];
      if (t.is_dynamic()) {
        auto offset = index(pos);
        if (!offset) return offset.error();
        // ethers slices past the end to an empty reader; any read from it then fails.
        std::size_t sub = base + static_cast<std::size_t>(std::min<std::uint64_t>(*offset, m_data.size() + 1));
        sub = std::min(sub, m_data.size() + 1);
        auto v = one(t, sub, depth + 1);
        if (!v) return v.error();
        out.push_back(std::move(*v));
      } else {
        auto v = one(t, pos, depth + 1);
        if (!v) return v.error();
        out.push_back(std::move(*v));
      }
    }
    return out;
  }

 private:
  Expected<ByteView, AbiErrc> read(std::size_t& pos, std::uint64_t length) {
    const std::uint64_t aligned = (length + word - 1) / word * word;
    if (pos > m_data.size() || aligned > m_data.size() - pos) {
      return AbiErrc::out_of_bounds;
    }
    m_read += length;
    if (m_read > max_inflation * m_data.size()) {
      return AbiErrc::too_large;
    }
    ByteView out = m_data.subspan(pos, static_cast<std::size_t>(length));
    for (std::size_t i = pos + static_cast<std::size_t>(length); i < pos + aligned; ++i) {
      if (m_data[i] != 0) return non_canonical("dirty padding after " + std::to_string(length) + " bytes");
    }
    pos += static_cast<std::size_t>(aligned);
    return out;
  }
  Expected<U256, AbiErrc> value(std::size_t& pos) {
    auto w = read(pos, word);
    if (!w) return w.error();
    return *U256::from_be_bytes(*w);
  }
  Expected<std::uint64_t, AbiErrc> index(std::size_t& pos) {
    auto v = value(pos);
    if (!v) return v.error();
    if (!v->fits_u64() || v->low_u64() > max_index) {
      return AbiErrc::offset_invalid;
    }
    return v->low_u64();
  }
  static AbiErrc non_canonical(std::string_view /*what*/) { return AbiErrc::non_canonical; }

  Expected<AbiValue, AbiErrc> one(const AbiType& type, std::size_t& pos, unsigned depth) {
    using K = AbiType::Kind;
    switch (type.kind) {
      case K::uint_:
      case K::int_: {
        auto v = value(pos);
        if (!v) return v.error();
        if (type.kind == K::uint_) {
          if (v->bit_length() > type.bits) return non_canonical("value does not fit " + type.canonical());
          return AbiValue::uint(*v);
        }
        const bool negative = v->bit_length() == 256;
        const U256 magnitude = negative ? v->wrapping_neg() : *v;
        const U256 limit = U256(1) << (type.bits - 1);
        if (negative ? magnitude > limit : magnitude >= limit) {
          return non_canonical("value is not a sign-extended " + type.canonical());
        }
        return AbiValue::sint(magnitude, negative);
      }
      case K::address: {
        auto w = read(pos, word);
        if (!w) return w.error();
        if (std::any_of(w->begin(), w->begin() + 12, [](std::uint8_t b) { return b != 0; })) {
          return non_canonical("address with high bytes set");
        }
        Address a;
        std::copy(w->begin() + 12, w->end(), a.bytes.begin());
        return AbiValue::address(a);
      }
      case K::bool_: {
        auto v = value(pos);
        if (!v) return v.error();
        if (*v > U256(1)) return non_canonical("bool other than 0 or 1");
        return AbiValue::boolean(!v->is_zero());
      }
      case K::fixed_bytes: {
        auto b = read(pos, type.size);
        if (!b) return b.error();
        return AbiValue::bytes(to_bytes(*b));
      }
      case K::bytes:
      case K::string: {
        auto length = index(pos);
        if (!length) return length.error();
        auto b = read(pos, *length);
        if (!b) return b.error();
        if (type.kind == K::bytes) return AbiValue::bytes(to_bytes(*b));
        if (!valid_utf8(*b)) return AbiErrc::invalid_utf8;
        return AbiValue::string(std::string(b->begin(), b->end()));
      }
      case K::array: {
        std::size_t count = 0;
        if (type.length) {
          count = *type.length;
        } else {
          const std::size_t start = pos;
          auto n = index(pos);
          if (!n) return n.error();
          if (*n > (m_data.size() - start) / word) {
            return AbiErrc::length_invalid;
          }
          count = static_cast<std::size_t>(*n);
        }
        auto v = tuple(TypeList(type.components.front(), count), pos, depth);
        if (!v) return v.error();
        return AbiValue::list(std::move(*v));
      }
      case K::tuple: {
        auto v = tuple(TypeList(type.components), pos, depth);
        if (!v) return v.error();
        return AbiValue::list(std::move(*v));
      }
    }
    return AbiErrc::type_invalid;
  }

  ByteView m_data;
  std::uint64_t m_read = 0;
};

// ---- signatures ----------------------------------------------------------------------------------

AbiErrc signature_error(std::string_view /*text*/, std::string_view /*what*/) {
  return AbiErrc::signature_invalid;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool valid_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), is_ident_char);
}

Expected<AbiParam, AbiErrc> parse_param(std::string_view full, std::string_view text) {
  text = trim(text);
  // The type ends at the first whitespace outside parentheses; tuples may contain spaces only in
  // member names, which we strip by parsing members recursively.
  std::size_t pos = 0;
  AbiParam param;
  if (!text.empty() && text[0] == '(') {
    // A tuple whose members may carry names: split at top-level commas.
    int depth = 0;
    std::size_t close = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '(') ++depth;
      if (text[i] == ')' && --depth == 0) {
        close = i;
        break;
      }
    }
    if (close == 0) return signature_error(full, "unbalanced parentheses");
    AbiType tuple;
    tuple.kind = AbiType::Kind::tuple;
    const std::string_view inner = text.substr(1, close - 1);
    if (!trim(inner).empty()) {
      int d = 0;
      std::size_t start = 0;
      for (std::size_t i = 0; i <= inner.size(); ++i) {
        if (i < inner.size() && inner[i] == '(') ++d;
        if (i < inner.size() && inner[i] == ')') --d;
        if (i == inner.size() || (inner[i] == ',' && d == 0)) {
          auto member = parse_param(full, inner.substr(start, i - start));
          if (!member) return member;
          if (member->indexed) return signature_error(full, "indexed inside a tuple");
          tuple.components.push_back(std::move(member->type));
          tuple.names.push_back(std::move(member->name));
          start = i + 1;
        }
      }
    }
    // Array suffixes after the tuple: reuse the type parser on a placeholder.
    pos = close + 1;
    std::size_t suffix_end = pos;
    while (suffix_end < text.size() && text[suffix_end] != ' ' && text[suffix_end] != '\t') ++suffix_end;
    const std::string suffixed = "()" + std::string(text.substr(pos, suffix_end - pos));
    std::size_t p = 0;
    auto shape = parse_type_at(suffixed, p, 0);
    if (!shape || p != suffixed.size()) return signature_error(full, "bad tuple array suffix");
    // Replace the placeholder () at the bottom of the array nest with the real tuple.
    AbiType* bottom = &*shape;
    while (bottom->kind == AbiType::Kind::array) bottom = &bottom->components.front();
    *bottom = std::move(tuple);
    param.type = std::move(*shape);
    pos = suffix_end;
  } else {
    auto type = parse_type_at(text, pos, 0);
    if (!type) return signature_error(full, to_string(type.error()));
    param.type = std::move(*type);
  }
  if (!param.type.is_dynamic() && param.type.head_size() > max_static_head) {
    return signature_error(full, "static type too large");
  }
  std::string_view rest = trim(text.substr(pos));
  if (!rest.empty() && rest.size() == text.size() - pos) {
    // No whitespace between the type and what follows: not a type we know.
    return signature_error(full, "unexpected text after a type");
  }
  while (!rest.empty()) {
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t') ++end;
    const std::string_view tok = rest.substr(0, end);
    if (tok == "indexed") {
      param.indexed = true;
    } else if (tok == "memory" || tok == "calldata" || tok == "storage") {
      // Data locations from Solidity source signatures do not change the ABI.
    } else if (param.name.empty() && valid_identifier(tok)) {
      param.name = std::string(tok);
    } else {
      return signature_error(full, "unexpected \"" + std::string(tok) + "\"");
    }
    rest = trim(rest.substr(end));
  }
  return param;
}

Expected<AbiType, AbiErrc> type_from_json(const boost::json::object& input, unsigned depth) {
  if (depth > max_abi_type_depth) return AbiErrc::signature_invalid;
  const auto* type_value = input.if_contains("type");
  if (type_value == nullptr || !type_value->is_string()) {
    return AbiErrc::signature_invalid;
  }
  const std::string_view type_text = type_value->as_string();
  if (type_text.substr(0, 5) != "tuple") {
    auto t = parse_abi_type(type_text);
    if (!t) return AbiErrc::signature_invalid;
    return t;
  }
  AbiType tuple;
  tuple.kind = AbiType::Kind::tuple;
  const auto* components = input.if_contains("components");
  if (components == nullptr || !components->is_array()) {
    return AbiErrc::signature_invalid;
  }
  for (const auto& c : components->as_array()) {
    if (!c.is_object()) return AbiErrc::signature_invalid;
    auto member = type_from_json(c.as_object(), depth + 1);
    if (!member) return member;
    tuple.components.push_back(std::move(*member));
    const auto* name = c.as_object().if_contains("name");
    tuple.names.emplace_back(name != nullptr && name->is_string() ? std::string(name->as_string()) : std::string());
  }
  const std::string suffixed = "()" + std::string(type_text.substr(5));
  std::size_t p = 0;
  auto shape = parse_type_at(suffixed, p, 0);
  if (!shape || p != suffixed.size()) return AbiErrc::signature_invalid;
  AbiType* bottom = &*shape;
  while (bottom->kind == AbiType::Kind::array) bottom = &bottom->components.front();
  *bottom = std::move(tuple);
  if (!shape->is_dynamic() && shape->head_size() > max_static_head) {
    return AbiErrc::signature_invalid;
  }
  return shape;
}

Expected<U256, U256Errc> int_from_text(std::string_view text, bool& negative) {
  negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) return U256::from_hex(text);
  return U256::from_dec(text);
}

}  // namespace

// ---- AbiType -------------------------------------------------------------------------------------

bool AbiType::is_dynamic() const noexcept {
  switch (kind) {
    case Kind::bytes:
    case Kind::string:
      return true;
    case Kind::array:
      return !length || components.front().is_dynamic();
    case Kind::tuple:
      return std::any_of(components.begin(), components.end(), [](const AbiType& c) { return c.is_dynamic(); });
    default:
      return false;
  }
}

std::size_t AbiType::head_size() const noexcept {
  if (is_dynamic()) return word;
  if (kind == Kind::array) return *length * components.front().head_size();
  if (kind == Kind::tuple) {
    std::size_t n = 0;
    for (const auto& c : components) n += c.head_size();
    return n;
  }
  return word;
}

std::string AbiType::canonical() const {
  switch (kind) {
    case Kind::uint_:
      return "uint" + std::to_string(bits);
    case Kind::int_:
      return "int" + std::to_string(bits);
    case Kind::address:
      return "address";
    case Kind::bool_:
      return "bool";
    case Kind::fixed_bytes:
      return "bytes" + std::to_string(size);
    case Kind::bytes:
      return "bytes";
    case Kind::string:
      return "string";
    case Kind::array:
      return components.front().canonical() + "[" + (length ? std::to_string(*length) : std::string()) + "]";
    case Kind::tuple: {
      std::string out = "(";
      for (std::size_t i = 0; i < components.size(); ++i) {
        if (i > 0) out += ',';
        out += components[i].canonical();
      }
      return out + ")";
    }
  }
  return {};
}

bool AbiType::operator==(const AbiType& o) const noexcept {
  return kind == o.kind && bits == o.bits && size == o.size && length == o.length && components == o.components;
}

const char* to_string(AbiErrc code) noexcept {
  switch (code) {
    case AbiErrc::type_invalid:
      return "abi_type_invalid";
    case AbiErrc::signature_invalid:
      return "abi_signature_invalid";
    case AbiErrc::value_invalid:
      return "abi_value_invalid";
    case AbiErrc::value_out_of_range:
      return "abi_value_out_of_range";
    case AbiErrc::too_large:
      return "abi_too_large";
    case AbiErrc::out_of_bounds:
      return "abi_out_of_bounds";
    case AbiErrc::offset_invalid:
      return "abi_offset_invalid";
    case AbiErrc::length_invalid:
      return "abi_length_invalid";
    case AbiErrc::invalid_utf8:
      return "abi_invalid_utf8";
    case AbiErrc::non_canonical:
      return "abi_non_canonical";
    case AbiErrc::log_mismatch:
      return "abi_log_mismatch";
  }
  return "abi_unknown";
}

Expected<AbiType, AbiErrc> parse_abi_type(std::string_view text) {
  std::size_t pos = 0;
  auto type = parse_type_at(text, pos, 0);
  if (!type) return type;
  if (pos != text.size()) return type_error(text, pos, "unexpected character");
  return type;
}

// ---- encode / decode -----------------------------------------------------------------------------

Expected<Bytes, AbiErrc> abi_encode(const std::vector<AbiType>& types, const AbiValues& values) {
  Bytes out;
  if (auto r = encode_tuple(TypeList(types), values, out); !r) return r.error();
  return out;
}

Expected<AbiValues, AbiErrc> abi_decode(const std::vector<AbiType>& types, ByteView data) {
  Decoder decoder(data);
  std::size_t pos = 0;
  return decoder.tuple(TypeList(types), pos, 0);
}

// ---- signatures, selectors, topics ---------------------------------------------------------------

std::string AbiSignature::canonical() const {
  std::string out = name + "(";
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i > 0) out += ',';
    out += params[i].type.canonical();
  }
  return out + ")";
}

std::vector<AbiType> AbiSignature::types() const {
  std::vector<AbiType> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(p.type);
  return out;
}

Expected<AbiSignature, AbiErrc> parse_abi_signature(std::string_view text) {
  std::string_view s = trim(text);
  for (std::string_view keyword : {"function ", "event "}) {
    if (s.substr(0, keyword.size()) == keyword) s = trim(s.substr(keyword.size()));
  }
  const std::size_t open = s.find('(');
  if (open == std::string_view::npos || s.empty() || s.back() != ')') {
    // Allow a trailing "anonymous" after the parameter list.
    if (open != std::string_view::npos && s.size() > 10 && s.substr(s.size() - 10) == " anonymous") {
      auto sig = parse_abi_signature(s.substr(0, s.size() - 10));
      if (sig) sig->anonymous = true;
      return sig;
    }
    return signature_error(text, "expected name(types)");
  }
  AbiSignature sig;
  sig.name = std::string(trim(s.substr(0, open)));
  if (!valid_identifier(sig.name)) return signature_error(text, "bad name");
  const std::string_view inner = s.substr(open + 1, s.size() - open - 2);
  if (!trim(inner).empty()) {
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= inner.size(); ++i) {
      if (i < inner.size() && inner[i] == '(') ++depth;
      if (i < inner.size() && inner[i] == ')' && --depth < 0) return signature_error(text, "unbalanced parentheses");
      if (i == inner.size() || (inner[i] == ',' && depth == 0)) {
        auto param = parse_param(text, inner.substr(start, i - start));
        if (!param) return param.error();
        sig.params.push_back(std::move(*param));
        start = i + 1;
      }
    }
    if (depth != 0) return signature_error(text, "unbalanced parentheses");
  }
  return sig;
}

Expected<AbiSignature, AbiErrc> abi_signature_from_json(const boost::json::value& fragment) {
  if (!fragment.is_object()) return AbiErrc::signature_invalid;
  const auto& o = fragment.as_object();
  AbiSignature sig;
  const auto* name = o.if_contains("name");
  if (name == nullptr || !name->is_string() || !valid_identifier(name->as_string())) {
    return AbiErrc::signature_invalid;
  }
  sig.name = std::string(name->as_string());
  if (const auto* anonymous = o.if_contains("anonymous"); anonymous != nullptr && anonymous->is_bool()) {
    sig.anonymous = anonymous->as_bool();
  }
  const auto* inputs = o.if_contains("inputs");
  if (inputs != nullptr) {
    if (!inputs->is_array()) return AbiErrc::signature_invalid;
    for (const auto& in : inputs->as_array()) {
      if (!in.is_object()) return AbiErrc::signature_invalid;
      auto type = type_from_json(in.as_object(), 0);
      if (!type) return type.error();
      AbiParam p;
      p.type = std::move(*type);
      if (const auto* n = in.as_object().if_contains("name"); n != nullptr && n->is_string())
        p.name = std::string(n->as_string());
      if (const auto* ix = in.as_object().if_contains("indexed"); ix != nullptr && ix->is_bool())
        p.indexed = ix->as_bool();
      sig.params.push_back(std::move(p));
    }
  }
  return sig;
}

FixedBytes<4> function_selector(const AbiSignature& signature) {
  const Hash32 h = keccak256(std::string_view(signature.canonical()));
  FixedBytes<4> out;
  std::copy_n(h.bytes.begin(), 4, out.bytes.begin());
  return out;
}

Expected<FixedBytes<4>, AbiErrc> function_selector(std::string_view signature) {
  auto sig = parse_abi_signature(signature);
  if (!sig) return sig.error();
  return function_selector(*sig);
}

Hash32 event_topic(const AbiSignature& event) {
  return keccak256(std::string_view(event.canonical()));
}

Expected<Hash32, AbiErrc> event_topic(std::string_view signature) {
  auto sig = parse_abi_signature(signature);
  if (!sig) return sig.error();
  return event_topic(*sig);
}

Expected<Bytes, AbiErrc> encode_function_call(const AbiSignature& function, const AbiValues& args) {
  auto encoded = abi_encode(function.types(), args);
  if (!encoded) return encoded;
  const auto selector = function_selector(function);
  Bytes out(selector.bytes.begin(), selector.bytes.end());
  out.insert(out.end(), encoded->begin(), encoded->end());
  return out;
}

Expected<std::vector<AbiLogValue>, AbiErrc> decode_event_log(const AbiSignature& event,
                                                             const std::vector<Hash32>& topics, ByteView data) {
  std::size_t indexed = 0;
  for (const auto& p : event.params) indexed += p.indexed ? 1 : 0;
  const std::size_t first = event.anonymous ? 0 : 1;
  if (topics.size() != indexed + first) {
    return AbiErrc::log_mismatch;
  }
  if (!event.anonymous && topics[0] != event_topic(event)) {
    return AbiErrc::log_mismatch;
  }
  std::vector<AbiType> data_types;
  for (const auto& p : event.params) {
    if (!p.indexed) data_types.push_back(p.type);
  }
  auto data_values = abi_decode(data_types, data);
  if (!data_values) return data_values.error();
  std::vector<AbiLogValue> out;
  std::size_t topic = first;
  std::size_t next_data = 0;
  for (const auto& p : event.params) {
    AbiLogValue v;
    v.name = p.name;
    if (!p.indexed) {
      v.value = std::move((*data_values)[next_data++]);
    } else if (p.type.is_dynamic() || p.type.kind == AbiType::Kind::tuple || p.type.kind == AbiType::Kind::array) {
      // Indexed reference types are stored as the hash of their encoding; the value is lost.
      v.hashed = true;
      v.value = AbiValue::bytes(to_bytes(topics[topic++].view()));
    } else {
      auto decoded = abi_decode({p.type}, topics[topic++].view());
      if (!decoded) return decoded.error();
      v.value = std::move(decoded->front());
    }
    out.push_back(std::move(v));
  }
  return out;
}

// ---- JSON ----------------------------------------------------------------------------------------

Expected<AbiValue, AbiErrc> abi_value_from_json(const AbiType& type, const boost::json::value& json) {
  using K = AbiType::Kind;
  const auto invalid = [&](std::string_view what) { return value_error(type, what); };
  switch (type.kind) {
    case K::uint_:
    case K::int_: {
      AbiValue v;
      if (json.is_int64()) {
        const std::int64_t i = json.as_int64();
        const std::uint64_t magnitude = i < 0 ? 0 - static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i);
        v = AbiValue::sint(U256(magnitude), i < 0);
      } else if (json.is_uint64()) {
        v = AbiValue::uint(U256(json.as_uint64()));
      } else if (json.is_string()) {
        bool negative = false;
        auto n = int_from_text(json.as_string(), negative);
        if (!n) return invalid("expected an integer");
        v = AbiValue::sint(*n, negative);
      } else {
        return invalid("expected an integer");
      }
      // Range-check through the encoder so the rule lives in one place.
      Bytes scratch;
      if (auto r = encode_one(type, v, scratch); !r) return r.error();
      return v;
    }
    case K::address: {
      if (!json.is_string()) return invalid("expected an address");
      auto a = parse_address(json.as_string());
      if (!a) return invalid(to_string(a.error()));
      return AbiValue::address(*a);
    }
    case K::bool_:
      if (!json.is_bool()) return invalid("expected true or false");
      return AbiValue::boolean(json.as_bool());
    case K::fixed_bytes:
    case K::bytes: {
      if (!json.is_string()) return invalid("expected hex bytes");
      auto b = from_hex(json.as_string());
      if (!b) return invalid(to_string(b.error()));
      if (type.kind == K::fixed_bytes && b->size() != type.size) return invalid("wrong length");
      return AbiValue::bytes(std::move(*b));
    }
    case K::string:
      if (!json.is_string()) return invalid("expected a string");
      return AbiValue::string(std::string(json.as_string()));
    case K::array:
    case K::tuple: {
      if (!json.is_array()) return invalid("expected an array");
      const auto& a = json.as_array();
      if (type.kind == K::tuple ? a.size() != type.components.size() : (type.length && a.size() != *type.length)) {
        return invalid("wrong number of elements");
      }
      AbiValues out;
      out.reserve(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        auto v = abi_value_from_json(type.kind == K::tuple ? type.components[i] : type.components.front(), a[i]);
        if (!v) return v;
        out.push_back(std::move(*v));
      }
      return AbiValue::list(std::move(out));
    }
  }
  return invalid("unsupported type");
}

boost::json::value abi_value_to_json(const AbiType& type, const AbiValue& value) {
  using K = AbiType::Kind;
  if (const auto* i = std::get_if<AbiInt>(&value.data)) {
    return boost::json::value((i->negative && !i->magnitude.is_zero() ? "-" : "") + i->magnitude.to_dec());
  }
  if (const auto* a = std::get_if<Address>(&value.data)) return boost::json::value(to_checksum(*a));
  if (const auto* b = std::get_if<bool>(&value.data)) return boost::json::value(*b);
  if (const auto* b = std::get_if<Bytes>(&value.data)) return boost::json::value(to_hex(*b));
  if (const auto* s = std::get_if<std::string>(&value.data)) return boost::json::value(*s);
  boost::json::array out;
  const auto& list = std::get<AbiValues>(value.data);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const AbiType& member = type.kind == K::tuple && i < type.components.size() ? type.components[i]
                            : !type.components.empty()                          ? type.components.front()
                                                                                : type;
    out.push_back(abi_value_to_json(member, list[i]));
  }
  return out;
}

}  // namespace gh::eth
