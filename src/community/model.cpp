#include "community/model.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "core/display_name.hpp"
#include "core/utf8.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;
using eth::U256;

Error gate_error(const std::string& path, std::string_view what) {
  return bad_input("invalid_gate", fmt::format("{}: {}", path, what));
}

// Parses and bounds one gate; counts nodes across the whole tree.
class GateParser {
 public:
  explicit GateParser(const GateLimits& limits) : m_limits(limits) {}

  Result<GateNode> node(const json::value& v, const std::string& path, std::size_t depth) {
    if (depth > m_limits.max_depth) {
      return gate_error(path, fmt::format("the gate is nested deeper than {} levels", m_limits.max_depth));
    }
    if (++m_nodes > m_limits.max_nodes) {
      return gate_error(path, fmt::format("the gate has more than {} nodes", m_limits.max_nodes));
    }
    const auto* obj = v.if_object();
    if (obj == nullptr) return gate_error(path, "a gate node must be an object");
    if (obj->contains("at_least")) return at_least(*obj, path, depth);
    if (obj->size() != 1) {
      return gate_error(path,
                        "a gate node has exactly one key: all, any, at_least (with of), erc20, erc721, erc1155 "
                        "or staked");
    }
    const auto& entry = *obj->begin();
    const std::string key(entry.key());
    const std::string child_path = path + "." + key;
    if (key == "all" || key == "any") {
      GateNode n;
      n.op = key == "all" ? GateNode::Op::all : GateNode::Op::any;
      auto children = list(entry.value(), child_path, depth);
      if (!children) return std::move(children).error();
      n.children = std::move(*children);
      return n;
    }
    LeafKind kind;
    if (key == "erc20") {
      kind = LeafKind::erc20;
    } else if (key == "erc721") {
      kind = LeafKind::erc721;
    } else if (key == "erc1155") {
      kind = LeafKind::erc1155;
    } else if (key == "staked") {
      kind = LeafKind::staked;
    } else {
      return gate_error(path, fmt::format("unknown gate node '{}'", key));
    }
    auto l = leaf(kind, entry.value(), child_path);
    if (!l) return std::move(l).error();
    GateNode n;
    n.op = GateNode::Op::leaf;
    n.leaf = std::move(*l);
    return n;
  }

 private:
  Result<GateNode> at_least(const json::object& obj, const std::string& path, std::size_t depth) {
    if (obj.size() != 2 || !obj.contains("of")) {
      return gate_error(path, "an at_least node has exactly the keys at_least and of");
    }
    auto children = list(obj.at("of"), path + ".of", depth);
    if (!children) return std::move(children).error();
    const auto& n_value = obj.at("at_least");
    std::int64_t n = 0;
    if (n_value.is_int64()) {
      n = n_value.as_int64();
    } else if (n_value.is_uint64()) {
      n = n_value.as_uint64() > 1'000'000 ? 1'000'000 : static_cast<std::int64_t>(n_value.as_uint64());
    } else {
      return gate_error(path + ".at_least", "must be an integer");
    }
    if (n < 1 || static_cast<std::size_t>(n) > children->size()) {
      return gate_error(path + ".at_least",
                        fmt::format("must be between 1 and the {} entries of of", children->size()));
    }
    GateNode node;
    node.op = GateNode::Op::at_least;
    node.at_least = static_cast<std::size_t>(n);
    node.children = std::move(*children);
    return node;
  }

  Result<std::vector<GateNode>> list(const json::value& v, const std::string& path, std::size_t depth) {
    const auto* arr = v.if_array();
    if (arr == nullptr) return gate_error(path, "must be an array of gate nodes");
    if (arr->empty()) return gate_error(path, "must not be empty");
    if (arr->size() > m_limits.max_children) {
      return gate_error(path, fmt::format("has more than {} entries", m_limits.max_children));
    }
    std::vector<GateNode> out;
    out.reserve(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto child = node((*arr)[i], fmt::format("{}[{}]", path, i), depth + 1);
      if (!child) return std::move(child).error();
      out.push_back(std::move(*child));
    }
    return out;
  }

  static Result<U256> amount(const json::value& v, const std::string& path) {
    if (v.is_uint64()) return U256(v.as_uint64());
    if (v.is_int64()) {
      if (v.as_int64() < 0) return gate_error(path, "must not be negative");
      return U256(static_cast<std::uint64_t>(v.as_int64()));
    }
    if (!v.is_string()) return gate_error(path, "must be a decimal string of base units");
    auto parsed = U256::from_dec(v.as_string());
    if (!parsed) {
      return gate_error(path, parsed.error() == eth::U256Errc::overflow ? "is larger than 2^256-1"
                                                                        : "must be a decimal string of base units");
    }
    return *parsed;
  }

  Result<GateLeaf> leaf(LeafKind kind, const json::value& v, const std::string& path) const {
    const auto* obj = v.if_object();
    if (obj == nullptr) return gate_error(path, "must be an object");
    std::set<std::string_view> allowed{"chain_id", "contract", "min"};
    if (kind == LeafKind::erc721) allowed.insert("token_ids");
    if (kind == LeafKind::erc1155) allowed.insert("token_id");
    for (const auto& entry : *obj) {
      if (allowed.count(entry.key()) == 0) {
        return gate_error(path, fmt::format("unknown field '{}'", std::string_view(entry.key())));
      }
    }
    GateLeaf l;
    l.kind = kind;
    const auto* chain = obj->if_contains("chain_id");
    if (chain == nullptr) return gate_error(path + ".chain_id", "is required");
    if (chain->is_int64() && chain->as_int64() > 0) {
      l.chain_id = static_cast<std::uint64_t>(chain->as_int64());
    } else if (chain->is_uint64() && chain->as_uint64() > 0) {
      l.chain_id = chain->as_uint64();
    } else {
      return gate_error(path + ".chain_id", "must be a positive integer");
    }
    const auto* contract = obj->if_contains("contract");
    if (contract == nullptr) return gate_error(path + ".contract", "is required");
    if (!contract->is_string()) return gate_error(path + ".contract", "must be an address");
    auto address = eth::parse_address(contract->as_string());
    if (!address) {
      return gate_error(path + ".contract", fmt::format("not an address ({})", eth::to_string(address.error())));
    }
    l.contract = *address;
    const auto* min = obj->if_contains("min");
    if (min == nullptr) {
      if (kind == LeafKind::erc20 || kind == LeafKind::staked) return gate_error(path + ".min", "is required");
      l.min = U256(1);
    } else {
      auto m = amount(*min, path + ".min");
      if (!m) return std::move(m).error();
      if (*m == U256(0)) return gate_error(path + ".min", "must be at least 1 (a zero minimum gates nothing)");
      l.min = *m;
    }
    if (kind == LeafKind::erc1155) {
      const auto* id = obj->if_contains("token_id");
      if (id == nullptr) return gate_error(path + ".token_id", "is required");
      auto parsed = amount(*id, path + ".token_id");
      if (!parsed) return std::move(parsed).error();
      l.token_id = *parsed;
    }
    if (kind == LeafKind::erc721) {
      if (const auto* ids = obj->if_contains("token_ids")) {
        const auto* arr = ids->if_array();
        if (arr == nullptr || arr->empty()) return gate_error(path + ".token_ids", "must be a non-empty array");
        if (arr->size() > m_limits.max_token_ids) {
          return gate_error(path + ".token_ids", fmt::format("has more than {} ids", m_limits.max_token_ids));
        }
        std::set<U256> seen;
        for (std::size_t i = 0; i < arr->size(); ++i) {
          const auto item_path = fmt::format("{}.token_ids[{}]", path, i);
          auto id = amount((*arr)[i], item_path);
          if (!id) return std::move(id).error();
          if (!seen.insert(*id).second) return gate_error(item_path, "is listed twice");
          l.token_ids.push_back(*id);
        }
        if (l.min > U256(static_cast<std::uint64_t>(l.token_ids.size()))) {
          return gate_error(path + ".min", "is more than the number of token_ids");
        }
      }
    }
    return l;
  }

  const GateLimits& m_limits;
  std::size_t m_nodes = 0;
};

json::value render_leaf(const GateLeaf& l) {
  json::object o{{"chain_id", l.chain_id}, {"contract", eth::to_checksum(l.contract)}};
  if (l.kind == LeafKind::erc1155) o["token_id"] = l.token_id.to_dec();
  if (l.kind == LeafKind::erc721 && !l.token_ids.empty()) {
    json::array ids;
    for (const auto& id : l.token_ids) ids.push_back(json::string(id.to_dec()));
    o["token_ids"] = std::move(ids);
  }
  o["min"] = l.min.to_dec();
  json::object outer;
  outer[to_string(l.kind)] = std::move(o);
  return outer;
}

U256 held_of(const GateLeaf& l, const Holdings& holdings) {
  auto get = [&](std::optional<U256> id) {
    auto it = holdings.find(HoldingKey{l.kind, l.chain_id, l.contract, id});
    return it == holdings.end() ? U256(0) : it->second;
  };
  if (l.kind == LeafKind::erc721 && !l.token_ids.empty()) {
    std::uint64_t owned = 0;
    for (const auto& id : l.token_ids) {
      if (get(id) != U256(0)) ++owned;
    }
    return U256(owned);
  }
  if (l.kind == LeafKind::erc1155) return get(l.token_id);
  return get(std::nullopt);
}

Evaluation eval(const GateNode& n, const Holdings& holdings, const std::string& path) {
  Evaluation out;
  if (n.op == GateNode::Op::leaf) {
    const auto& l = n.leaf;
    const U256 held = held_of(l, holdings);
    out.passed = held >= l.min;
    if (!out.passed) {
      UnmetLeaf u;
      u.path = path;
      u.kind = l.kind;
      u.chain_id = l.chain_id;
      u.contract = l.contract;
      if (l.kind == LeafKind::erc1155) u.token_id = l.token_id;
      u.token_ids = l.token_ids;
      u.required = l.min;
      u.held = held;
      out.unmet.push_back(std::move(u));
    }
    return out;
  }
  const char* name = n.op == GateNode::Op::all ? "all" : n.op == GateNode::Op::any ? "any" : "of";
  std::size_t passing = 0;
  std::vector<UnmetLeaf> unmet;
  for (std::size_t i = 0; i < n.children.size(); ++i) {
    auto child = eval(n.children[i], holdings, fmt::format("{}.{}[{}]", path, name, i));
    if (child.passed) {
      ++passing;
    } else {
      for (auto& u : child.unmet) unmet.push_back(std::move(u));
    }
  }
  switch (n.op) {
    case GateNode::Op::all:
      out.passed = passing == n.children.size();
      break;
    case GateNode::Op::any:
      out.passed = passing >= 1;
      break;
    default:
      out.passed = passing >= n.at_least;
      break;
  }
  if (!out.passed) out.unmet = std::move(unmet);
  return out;
}

}  // namespace

const char* to_string(LeafKind kind) noexcept {
  switch (kind) {
    case LeafKind::erc20:
      return "erc20";
    case LeafKind::erc721:
      return "erc721";
    case LeafKind::erc1155:
      return "erc1155";
    case LeafKind::staked:
      return "staked";
  }
  return "erc20";
}

Result<GateNode> parse_gate(const json::value& value, std::string_view root, const GateLimits& limits) {
  GateParser parser(limits);
  return parser.node(value, std::string(root), 1);
}

json::value render_gate(const GateNode& gate) {
  switch (gate.op) {
    case GateNode::Op::leaf:
      return render_leaf(gate.leaf);
    case GateNode::Op::all:
    case GateNode::Op::any: {
      json::array children;
      for (const auto& c : gate.children) children.push_back(render_gate(c));
      json::object o;
      o[gate.op == GateNode::Op::all ? "all" : "any"] = std::move(children);
      return o;
    }
    case GateNode::Op::at_least: {
      json::array children;
      for (const auto& c : gate.children) children.push_back(render_gate(c));
      return json::object{{"at_least", static_cast<std::int64_t>(gate.at_least)}, {"of", std::move(children)}};
    }
  }
  return nullptr;
}

void add_holding_keys(const GateNode& gate, std::set<HoldingKey>& keys) {
  if (gate.op != GateNode::Op::leaf) {
    for (const auto& c : gate.children) add_holding_keys(c, keys);
    return;
  }
  const auto& l = gate.leaf;
  if (l.kind == LeafKind::erc721 && !l.token_ids.empty()) {
    for (const auto& id : l.token_ids) keys.insert(HoldingKey{l.kind, l.chain_id, l.contract, id});
  } else if (l.kind == LeafKind::erc1155) {
    keys.insert(HoldingKey{l.kind, l.chain_id, l.contract, l.token_id});
  } else {
    keys.insert(HoldingKey{l.kind, l.chain_id, l.contract, std::nullopt});
  }
}

std::set<HoldingKey> holding_keys(const GateNode& gate) {
  std::set<HoldingKey> keys;
  add_holding_keys(gate, keys);
  return keys;
}

Evaluation evaluate(const GateNode& gate, const Holdings& holdings, std::string_view root) {
  return eval(gate, holdings, std::string(root));
}

json::array render_unmet(const std::vector<UnmetLeaf>& unmet) {
  json::array out;
  for (const auto& u : unmet) {
    json::object o{{"path", u.path},
                   {"kind", to_string(u.kind)},
                   {"chain_id", u.chain_id},
                   {"contract", eth::to_checksum(u.contract)},
                   {"required", u.required.to_dec()},
                   {"held", u.held.to_dec()}};
    if (u.token_id) o["token_id"] = u.token_id->to_dec();
    if (!u.token_ids.empty()) {
      json::array ids;
      for (const auto& id : u.token_ids) ids.push_back(json::string(id.to_dec()));
      o["token_ids"] = std::move(ids);
    }
    out.push_back(std::move(o));
  }
  return out;
}

// --- roles and permissions ---

namespace {
constexpr Permission permission_order[] = {
    Permission::manage_community, Permission::manage_channels, Permission::manage_roles,     Permission::kick_members,
    Permission::ban_members,      Permission::manage_messages, Permission::mention_everyone, Permission::view_audit_log,
    Permission::pin_messages,     Permission::manage_nicknames};
}

const char* to_string(Permission p) noexcept {
  switch (p) {
    case Permission::manage_community:
      return "manage_community";
    case Permission::manage_channels:
      return "manage_channels";
    case Permission::manage_roles:
      return "manage_roles";
    case Permission::kick_members:
      return "kick_members";
    case Permission::ban_members:
      return "ban_members";
    case Permission::manage_messages:
      return "manage_messages";
    case Permission::mention_everyone:
      return "mention_everyone";
    case Permission::view_audit_log:
      return "view_audit_log";
    case Permission::pin_messages:
      return "pin_messages";
    case Permission::manage_nicknames:
      return "manage_nicknames";
  }
  return "";
}

std::optional<Permission> parse_permission(std::string_view name) {
  for (auto p : permission_order) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

std::vector<std::string> permission_names(Permissions set) {
  std::vector<std::string> out;
  for (auto p : permission_order) {
    if (has(set, p)) out.emplace_back(to_string(p));
  }
  return out;
}

Permissions all_permissions() noexcept {
  Permissions all = 0;
  for (auto p : permission_order) all |= static_cast<Permissions>(p);
  return all;
}

const std::vector<BuiltinRole>& builtin_roles() {
  static const std::vector<BuiltinRole> roles{
      {"owner", 100, all_permissions()},
      {"admin", 80, all_permissions()},
      {"moderator", 50,
       static_cast<Permissions>(Permission::kick_members) | static_cast<Permissions>(Permission::ban_members) |
           static_cast<Permissions>(Permission::manage_messages) |
           static_cast<Permissions>(Permission::mention_everyone) |
           static_cast<Permissions>(Permission::view_audit_log) | static_cast<Permissions>(Permission::pin_messages) |
           static_cast<Permissions>(Permission::manage_nicknames)},
      {"member", 0, 0},
  };
  return roles;
}

const BuiltinRole* find_builtin_role(std::string_view name) {
  for (const auto& r : builtin_roles()) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// --- names ---

Result<std::string> check_name(std::string_view field, std::string_view name, std::size_t max_chars) {
  if (!is_display_name(name, max_chars)) {
    return bad_input("invalid_field",
                     fmt::format("{} must be 1 to {} printable characters (UTF-8, no control, separator or bidi "
                                 "override characters)",
                                 field, max_chars));
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return bad_input("invalid_field", fmt::format("{} must not start or end with a space", field));
  }
  return std::string(name);
}

Result<std::string> check_slug(std::string_view slug) {
  const bool shape = slug.size() >= 3 && slug.size() <= 40 && slug.front() != '-' && slug.back() != '-' &&
                     std::all_of(slug.begin(), slug.end(),
                                 [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
  if (!shape) {
    return bad_input("invalid_slug", "slug must be 3 to 40 of a-z, 0-9 and '-', not starting or ending with '-'");
  }
  return std::string(slug);
}

Result<std::string> check_custom_role_name(std::string_view name) {
  const bool shape = !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!shape) return bad_input("invalid_role", "a role name is 1 to 32 of a-z, 0-9, '_' and '-'");
  if (find_builtin_role(name) != nullptr) {
    return bad_input("invalid_role", fmt::format("'{}' is a built-in role", name));
  }
  return std::string(name);
}

// --- forum channels ---

const char* to_string(ChannelType type) noexcept {
  switch (type) {
    case ChannelType::forum:
      return "forum";
    case ChannelType::category:
      return "category";
    case ChannelType::text:
      break;
  }
  return "text";
}

Result<ChannelType> parse_channel_type(std::string_view name) {
  if (name == "text") return ChannelType::text;
  if (name == "forum") return ChannelType::forum;
  if (name == "category") return ChannelType::category;
  return bad_input("invalid_field", "type is \"text\", \"forum\" or \"category\"");
}

namespace {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool valid_emoji(std::string_view emoji) {
  if (emoji.size() > max_tag_emoji_bytes || !valid_utf8(emoji)) return false;
  return std::none_of(emoji.begin(), emoji.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

}  // namespace

Result<std::vector<ForumTag>> apply_tag_specs(const std::vector<TagSpec>& specs, const std::vector<ForumTag>& current,
                                              const std::function<std::string()>& fresh_id) {
  if (specs.size() > max_forum_tags) {
    return bad_input("invalid_tag", fmt::format("a forum channel has at most {} tags", max_forum_tags));
  }
  std::vector<ForumTag> out;
  std::set<std::string> ids;
  std::set<std::string> names;
  for (const auto& spec : specs) {
    if (!is_display_name(spec.name, max_tag_name_chars) || spec.name.front() == ' ' || spec.name.back() == ' ') {
      return bad_input("invalid_tag", fmt::format("a tag's name is 1 to {} printable characters, not starting or "
                                                  "ending with a space",
                                                  max_tag_name_chars));
    }
    if (!spec.emoji.empty() && !valid_emoji(spec.emoji)) {
      return bad_input("invalid_tag", fmt::format("a tag's emoji is at most {} bytes of UTF-8 without spaces or "
                                                  "control characters",
                                                  max_tag_emoji_bytes));
    }
    if (!names.insert(ascii_lower(spec.name)).second) {
      return bad_input("invalid_tag", fmt::format("two tags are named '{}'", spec.name));
    }
    if (spec.id) {
      const bool known =
          std::any_of(current.begin(), current.end(), [&](const ForumTag& t) { return t.id == *spec.id; });
      if (!known) return bad_input("invalid_tag", fmt::format("the channel has no tag {}", *spec.id));
    }
    ForumTag tag{spec.id ? *spec.id : fresh_id(), spec.name, spec.emoji, spec.moderated};
    if (!ids.insert(tag.id).second) return bad_input("invalid_tag", fmt::format("tag {} is named twice", tag.id));
    out.push_back(std::move(tag));
  }
  return out;
}

Result<void> check_channel_defaults(const ChannelDefaults& d) {
  const auto m = d.auto_archive_minutes;
  if (m != 60 && m != 1440 && m != 4320 && m != 10080) {
    return bad_input("invalid_field", "default_auto_archive_minutes is 60, 1440, 4320 or 10080");
  }
  if (d.sort_order != "activity" && d.sort_order != "created") {
    return bad_input("invalid_field", "default_sort_order is \"activity\" or \"created\"");
  }
  if (!d.reaction_emoji.empty() && !valid_emoji(d.reaction_emoji)) {
    return bad_input("invalid_field", fmt::format("default_reaction_emoji is at most {} bytes of UTF-8 without "
                                                  "spaces or control characters",
                                                  max_tag_emoji_bytes));
  }
  return ok();
}

boost::json::array tags_json(const std::vector<ForumTag>& tags) {
  boost::json::array out;
  for (const auto& t : tags) {
    boost::json::object o{{"id", t.id}, {"name", t.name}, {"moderated", t.moderated}};
    o["emoji"] = t.emoji.empty() ? boost::json::value(nullptr) : boost::json::value(t.emoji);
    out.emplace_back(std::move(o));
  }
  return out;
}

std::vector<ForumTag> tags_from_text(std::string_view text) {
  std::vector<ForumTag> out;
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(text, ec);
  if (ec || !parsed.is_array()) return out;
  for (const auto& v : parsed.as_array()) {
    const auto* o = v.if_object();
    if (o == nullptr) continue;
    const auto* id = o->if_contains("id");
    const auto* name = o->if_contains("name");
    if (id == nullptr || !id->is_string() || name == nullptr || !name->is_string()) continue;
    ForumTag t{std::string(id->as_string()), std::string(name->as_string())};
    if (const auto* e = o->if_contains("emoji"); e != nullptr && e->is_string()) t.emoji = std::string(e->as_string());
    if (const auto* m = o->if_contains("moderated"); m != nullptr && m->is_bool()) t.moderated = m->as_bool();
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace gh::community
