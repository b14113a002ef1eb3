#include "eth/eip712.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <set>

#include "eth/address.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"
#include "eth/u256.hpp"

namespace gh::eth {
namespace {

constexpr std::size_t max_types = 256;
constexpr std::size_t max_struct_depth = 64;
constexpr std::string_view domain_type = "EIP712Domain";

// The reasons are for a reader of the call site; the code is what a caller gets.
Eip712Errc malformed(std::string_view /*why*/) {
  return Eip712Errc::malformed;
}
Eip712Errc types_invalid(std::string_view /*why*/) {
  return Eip712Errc::types_invalid;
}
Eip712Errc value_invalid(std::string_view /*type*/, std::string_view /*why*/) {
  return Eip712Errc::value_invalid;
}

// An array suffix: its length, or nullopt for T[].
struct ArrayShape {
  std::string element;                // the type without its last suffix
  std::optional<std::size_t> length;  // nullopt for a dynamic array
};

// Splits "T[2][]" into element "T[2]" and a dynamic length; nullopt when not an array.
std::optional<ArrayShape> split_array(std::string_view type) {
  if (type.empty() || type.back() != ']') return std::nullopt;
  const std::size_t open = type.rfind('[');
  if (open == std::string_view::npos) return std::nullopt;
  const std::string_view digits = type.substr(open + 1, type.size() - open - 2);
  ArrayShape shape{std::string(type.substr(0, open)), std::nullopt};
  if (!digits.empty()) {
    if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    shape.length = static_cast<std::size_t>(std::stoul(std::string(digits)));
  }
  return shape;
}

// The type name with every array suffix removed.
std::string_view base_of(std::string_view type) {
  const std::size_t open = type.find('[');
  return open == std::string_view::npos ? type : type.substr(0, open);
}

// Width of "uintN"/"intN"/"bytesN"; 0 when `type` is not of that family, -1 when the width is bad.
int sized_width(std::string_view type, std::string_view prefix, int max_width, int multiple) {
  if (type.substr(0, prefix.size()) != prefix) return 0;
  const std::string_view digits = type.substr(prefix.size());
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  if (digits.size() > 3 || digits[0] == '0') return -1;
  const int width = std::stoi(std::string(digits));
  if (width == 0 || width > max_width || width % multiple != 0) return -1;
  return width;
}

enum class Atomic { none, uint_, int_, fixed_bytes, address, bool_, bytes, string };

struct AtomicInfo {
  Atomic kind = Atomic::none;
  int width = 0;
  bool bad_width = false;
};

AtomicInfo atomic_of(std::string_view type) {
  if (type == "address") return {Atomic::address, 0, false};
  if (type == "bool") return {Atomic::bool_, 0, false};
  if (type == "bytes") return {Atomic::bytes, 0, false};
  if (type == "string") return {Atomic::string, 0, false};
  if (int w = sized_width(type, "uint", 256, 8); w != 0) return {Atomic::uint_, w, w < 0};
  if (int w = sized_width(type, "int", 256, 8); w != 0) return {Atomic::int_, w, w < 0};
  if (int w = sized_width(type, "bytes", 32, 1); w != 0) return {Atomic::fixed_bytes, w, w < 0};
  return {};
}

// ethers reads `uint` and `int` as 256-bit unless a struct has that name.
std::string normalize(const Eip712Types& types, std::string_view type) {
  const std::string_view base = base_of(type);
  if ((base == "uint" || base == "int") && !types.contains(base)) {
    return std::string(base) + "256" + std::string(type.substr(base.size()));
  }
  return std::string(type);
}

Expected<U256, Eip712Errc> integer_of(std::string_view type, const boost::json::value& v, bool& negative) {
  negative = false;
  if (v.is_int64()) {
    const std::int64_t i = v.as_int64();
    negative = i < 0;
    return U256(negative ? 0 - static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i));
  }
  if (v.is_uint64()) return U256(v.as_uint64());
  if (v.is_double()) {
    const double d = v.as_double();
    if (std::trunc(d) != d || std::fabs(d) > 9007199254740991.0) return value_invalid(type, "not an integer");
    negative = d < 0;
    return U256(static_cast<std::uint64_t>(std::fabs(d)));
  }
  if (!v.is_string()) return value_invalid(type, "expected an integer");
  std::string_view text = v.as_string();
  negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  auto parsed = (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) ? U256::from_hex(text)
                                                                                          : U256::from_dec(text);
  if (!parsed)
    return value_invalid(type, "not an integer: " + std::string(v.as_string().subview(
                                                        0, std::min<std::size_t>(v.as_string().size(), 80))));
  return *parsed;
}

class Encoder {
 public:
  explicit Encoder(const Eip712Types& types) : m_types(types) {}

  Expected<std::string, Eip712Errc> encode_type(std::string_view name) const {
    const auto it = m_types.find(name);
    if (it == m_types.end()) return Eip712Errc::type_unknown;
    std::set<std::string, std::less<>> referenced;
    collect(name, referenced, 0);
    referenced.erase(std::string(name));
    std::string out = encode_one(it->first, it->second);
    for (const auto& r : referenced) out += encode_one(r, m_types.find(r)->second);
    return out;
  }

  // The 32-byte word a value of `type` contributes to its parent's encodeData.
  Expected<Hash32, Eip712Errc> word(std::string_view type, const boost::json::value& v, std::size_t depth) const {
    if (depth > max_struct_depth) return value_invalid(type, "nested too deeply");
    Hash32 out;
    if (auto shape = split_array(type)) {
      if (!v.is_array()) return value_invalid(type, "expected an array");
      const auto& a = v.as_array();
      if (shape->length && a.size() != *shape->length) return value_invalid(type, "array length mismatch");
      Bytes concat;
      concat.reserve(a.size() * 32);
      for (const auto& item : a) {
        auto w = word(shape->element, item, depth + 1);
        if (!w) return w;
        concat.insert(concat.end(), w->bytes.begin(), w->bytes.end());
      }
      return keccak256(ByteView(concat));
    }
    const AtomicInfo atomic = atomic_of(type);
    switch (atomic.kind) {
      case Atomic::uint_:
      case Atomic::int_: {
        bool negative = false;
        auto n = integer_of(type, v, negative);
        if (!n) return n.error();
        negative = negative && !n->is_zero();
        const auto bits = static_cast<unsigned>(atomic.width);
        if (atomic.kind == Atomic::uint_) {
          if (negative || n->bit_length() > bits) return value_invalid(type, "value out of range");
          return n->to_be_bytes();
        }
        const U256 limit = U256(1) << (bits - 1);
        if (negative ? *n > limit : *n >= limit) return value_invalid(type, "value out of range");
        return (negative ? n->wrapping_neg() : *n).to_be_bytes();
      }
      case Atomic::address: {
        if (!v.is_string()) return value_invalid(type, "expected an address");
        auto a = parse_address(v.as_string());
        if (!a) return value_invalid(type, to_string(a.error()));
        std::copy(a->bytes.begin(), a->bytes.end(), out.bytes.begin() + 12);
        return out;
      }
      case Atomic::bool_:
        if (!v.is_bool()) return value_invalid(type, "expected true or false");
        out.bytes[31] = v.as_bool() ? 1 : 0;
        return out;
      case Atomic::fixed_bytes: {
        if (!v.is_string()) return value_invalid(type, "expected hex bytes");
        auto b = from_hex(v.as_string());
        if (!b || b->size() != static_cast<std::size_t>(atomic.width)) return value_invalid(type, "wrong length");
        std::copy(b->begin(), b->end(), out.bytes.begin());
        return out;
      }
      case Atomic::bytes: {
        if (!v.is_string()) return value_invalid(type, "expected hex bytes");
        auto b = from_hex(v.as_string());
        if (!b) return value_invalid(type, to_string(b.error()));
        return keccak256(ByteView(*b));
      }
      case Atomic::string:
        if (!v.is_string()) return value_invalid(type, "expected a string");
        return keccak256(std::string_view(v.as_string()));
      case Atomic::none:
        break;
    }
    auto data = encode_data(type, v, depth);
    if (!data) return data.error();
    return keccak256(ByteView(*data));
  }

  Expected<Bytes, Eip712Errc> encode_data(std::string_view type, const boost::json::value& v, std::size_t depth) const {
    const auto it = m_types.find(type);
    if (it == m_types.end()) return Eip712Errc::type_unknown;
    if (!v.is_object()) return value_invalid(type, "expected an object");
    const auto& object = v.as_object();
    auto cached = m_type_hashes.find(type);
    if (cached == m_type_hashes.end()) {
      auto type_string = encode_type(type);
      if (!type_string) return type_string.error();
      cached = m_type_hashes.emplace(std::string(type), keccak256(std::string_view(*type_string))).first;
    }
    Bytes out(cached->second.bytes.begin(), cached->second.bytes.end());
    for (const auto& field : it->second) {
      const auto* member = object.if_contains(field.name);
      if (member == nullptr || member->is_null()) {
        return Eip712Errc::field_missing;
      }
      auto w = word(normalize(m_types, field.type), *member, depth + 1);
      if (!w) return w.error();
      out.insert(out.end(), w->bytes.begin(), w->bytes.end());
    }
    return out;
  }

 private:
  static std::string encode_one(std::string_view name, const std::vector<Eip712Field>& fields) {
    std::string out(name);
    out += '(';
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out += ',';
      out += fields[i].type + " " + fields[i].name;
    }
    return out + ")";
  }
  // Adds every struct reachable from `name` (types were checked acyclic, depth bounds recursion).
  void collect(std::string_view name, std::set<std::string, std::less<>>& found, std::size_t depth) const {
    const auto it = m_types.find(name);
    if (it == m_types.end() || depth > max_types) return;
    for (const auto& f : it->second) {
      const std::string_view base = base_of(f.type);
      if (m_types.contains(base) && !found.contains(base)) {
        found.emplace(base);
        collect(base, found, depth + 1);
      }
    }
  }

  const Eip712Types& m_types;
  mutable std::map<std::string, Hash32, std::less<>> m_type_hashes;  // typeHash per struct, computed once
};

// Types with `uint`/`int` spelled out, as ethers stores them (encodeType prints the full name).
Eip712Types normalized(const Eip712Types& types) {
  Eip712Types out = types;
  for (auto& [name, fields] : out) {
    for (auto& f : fields) f.type = normalize(types, f.type);
  }
  return out;
}

// Depth-first search with three states so that shared subtypes are explored once.
Expected<void, Eip712Errc> check_acyclic(const Eip712Types& types, const std::string& name,
                                         std::map<std::string, bool, std::less<>>& state, std::size_t depth) {
  if (const auto it = state.find(name); it != state.end()) {
    if (!it->second) return types_invalid("circular type reference to " + name);
    return {};  // finished earlier
  }
  if (depth > max_types) return types_invalid("types nested too deeply");
  state.emplace(name, false);
  for (const auto& f : types.find(name)->second) {
    const std::string base(base_of(normalize(types, f.type)));
    if (types.contains(base)) {
      if (auto r = check_acyclic(types, base, state, depth + 1); !r) return r;
    }
  }
  state[name] = true;
  return {};
}

Expected<Eip712Types, Eip712Errc> types_from_json(const boost::json::value& json) {
  if (!json.is_object()) return malformed("types must be an object");
  Eip712Types types;
  for (const auto& [name, fields] : json.as_object()) {
    if (!fields.is_array()) return malformed("type " + std::string(name) + " must be an array of fields");
    auto& out = types[std::string(name)];
    for (const auto& f : fields.as_array()) {
      const auto* o = f.if_object();
      const auto* n = o != nullptr ? o->if_contains("name") : nullptr;
      const auto* t = o != nullptr ? o->if_contains("type") : nullptr;
      if (n == nullptr || t == nullptr || !n->is_string() || !t->is_string()) {
        return malformed("fields of " + std::string(name) + " need a string name and type");
      }
      out.push_back({std::string(n->as_string()), std::string(t->as_string())});
    }
  }
  return types;
}

// The EIP712Domain type of a domain object, from the standard keys in their standard order.
Expected<std::vector<Eip712Field>, Eip712Errc> derived_domain_type(const boost::json::object& domain) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> standard{
      {{"name", "string"},
       {"version", "string"},
       {"chainId", "uint256"},
       {"verifyingContract", "address"},
       {"salt", "bytes32"}}};
  // No structured binding here: clang 14 (the fuzz build) cannot capture one in a lambda.
  for (const auto& entry : domain) {
    const std::string_view key = entry.key();
    if (std::none_of(standard.begin(), standard.end(), [&](const auto& s) { return s.first == key; })) {
      return malformed("invalid domain key " + std::string(key));
    }
  }
  std::vector<Eip712Field> fields;
  for (const auto& [key, type] : standard) {
    if (const auto* v = domain.if_contains(key); v != nullptr && !v->is_null()) {
      fields.push_back({std::string(key), std::string(type)});
    }
  }
  return fields;
}

}  // namespace

const char* to_string(Eip712Errc code) noexcept {
  switch (code) {
    case Eip712Errc::malformed:
      return "eip712_malformed";
    case Eip712Errc::type_unknown:
      return "eip712_type_unknown";
    case Eip712Errc::types_invalid:
      return "eip712_types_invalid";
    case Eip712Errc::field_missing:
      return "eip712_field_missing";
    case Eip712Errc::value_invalid:
      return "eip712_value_invalid";
  }
  return "eip712_unknown";
}

Expected<void, Eip712Errc> eip712_check_types(const Eip712Types& types) {
  if (types.size() > max_types) return types_invalid("more than " + std::to_string(max_types) + " types");
  for (const auto& [name, fields] : types) {
    if (name.empty() || name.find_first_of("[](), ") != std::string::npos)
      return types_invalid("bad type name " + name);
    if (atomic_of(name).kind != Atomic::none) return types_invalid("struct named like an atomic type: " + name);
    std::set<std::string_view> names;
    for (const auto& f : fields) {
      if (!names.insert(f.name).second) return types_invalid("duplicate member " + f.name + " in " + name);
      const std::string type = normalize(types, f.type);
      // Every array suffix must be well formed.
      std::string_view rest = type;
      while (auto shape = split_array(rest)) rest = rest.substr(0, shape->element.size());
      if (rest.find_first_of("[]") != std::string_view::npos) return types_invalid("bad array type " + f.type);
      const AtomicInfo atomic = atomic_of(rest);
      if (atomic.bad_width) return types_invalid("invalid width in " + f.type);
      if (atomic.kind == Atomic::none && !types.contains(rest)) {
        return Eip712Errc::type_unknown;
      }
    }
  }
  std::map<std::string, bool, std::less<>> state;
  for (const auto& [name, fields] : types) {
    (void)fields;
    if (auto r = check_acyclic(types, name, state, 0); !r) return r;
  }
  return {};
}

Expected<Eip712TypedData, Eip712Errc> parse_typed_data(const boost::json::value& json) {
  const auto* o = json.if_object();
  if (o == nullptr) return malformed("typed data must be an object");
  const auto* types = o->if_contains("types");
  const auto* primary = o->if_contains("primaryType");
  const auto* domain = o->if_contains("domain");
  const auto* message = o->if_contains("message");
  if (types == nullptr || primary == nullptr || !primary->is_string() || domain == nullptr || !domain->is_object() ||
      message == nullptr) {
    return malformed("typed data needs types, primaryType, domain and message");
  }
  auto parsed = types_from_json(*types);
  if (!parsed) return parsed.error();
  if (auto r = eip712_check_types(*parsed); !r) return r.error();
  Eip712TypedData out;
  out.types = std::move(*parsed);
  out.primary_type = std::string(primary->as_string());
  if (!out.types.contains(out.primary_type)) {
    return Eip712Errc::type_unknown;
  }
  out.domain = domain->as_object();
  out.message = *message;
  return out;
}

Expected<std::string, Eip712Errc> eip712_encode_type(const Eip712Types& types, std::string_view type_name) {
  if (auto r = eip712_check_types(types); !r) return r.error();
  const Eip712Types norm = normalized(types);
  return Encoder(norm).encode_type(type_name);
}

Expected<Hash32, Eip712Errc> eip712_type_hash(const Eip712Types& types, std::string_view type_name) {
  auto t = eip712_encode_type(types, type_name);
  if (!t) return t.error();
  return keccak256(std::string_view(*t));
}

Expected<Bytes, Eip712Errc> eip712_encode_data(const Eip712Types& types, std::string_view type_name,
                                               const boost::json::value& value) {
  if (auto r = eip712_check_types(types); !r) return r.error();
  const Eip712Types norm = normalized(types);
  return Encoder(norm).encode_data(type_name, value, 0);
}

Expected<Hash32, Eip712Errc> eip712_hash_struct(const Eip712Types& types, std::string_view type_name,
                                                const boost::json::value& value) {
  auto data = eip712_encode_data(types, type_name, value);
  if (!data) return data.error();
  return keccak256(ByteView(*data));
}

Expected<Hash32, Eip712Errc> eip712_domain_separator(const Eip712TypedData& data) {
  if (data.types.contains(domain_type)) {
    return eip712_hash_struct(data.types, domain_type, data.domain);
  }
  auto fields = derived_domain_type(data.domain);
  if (!fields) return fields.error();
  Eip712Types domain_types = data.types;
  domain_types.emplace(std::string(domain_type), std::move(*fields));
  return eip712_hash_struct(domain_types, domain_type, data.domain);
}

Expected<Hash32, Eip712Errc> eip712_digest(const Eip712TypedData& data) {
  auto separator = eip712_domain_separator(data);
  if (!separator) return separator;
  Bytes preimage{0x19, 0x01};
  preimage.insert(preimage.end(), separator->bytes.begin(), separator->bytes.end());
  if (data.primary_type != domain_type) {
    auto message = eip712_hash_struct(data.types, data.primary_type, data.message);
    if (!message) return message;
    preimage.insert(preimage.end(), message->bytes.begin(), message->bytes.end());
  }
  return keccak256(ByteView(preimage));
}

}  // namespace gh::eth
