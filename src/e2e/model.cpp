#include "e2e/model.hpp"

#include <sodium.h>

#include <algorithm>

#include <fmt/format.h>

namespace gh::e2e {
namespace {

namespace json = boost::json;

std::optional<mls::Bytes> base64_decode(std::string_view text, int variant) {
  mls::Bytes out(text.size() / 4 * 3 + 3);
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::string base64_encode(const mls::Bytes& bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<std::vector<eth::Address>> address_list(const json::object& body, std::string_view name, std::size_t max) {
  std::vector<eth::Address> out;
  const auto* v = body.if_contains(name);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return bad_input("invalid_field", fmt::format("{} must be an array of addresses", name));
  if (v->as_array().size() > max) {
    return make_error(ErrorKind::too_large, "too_many_members", fmt::format("at most {} entries in {}", max, name));
  }
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) return bad_input("invalid_address", fmt::format("each of {} must be an address", name));
    auto a = eth::parse_address(std::string_view(item.as_string()));
    if (!a) {
      return bad_input("invalid_address",
                       fmt::format("{} holds '{}', which is not an address", name, std::string_view(item.as_string())));
    }
    if (std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  return out;
}

}  // namespace

const char* to_string(GroupKind kind) noexcept {
  return kind == GroupKind::dm ? "dm" : "group";
}

std::optional<GroupKind> parse_group_kind(std::string_view text) {
  if (text == "dm") return GroupKind::dm;
  if (text == "group") return GroupKind::group;
  return std::nullopt;
}

const char* to_string(Consent state) noexcept {
  switch (state) {
    case Consent::unknown:
      return "unknown";
    case Consent::allowed:
      return "allowed";
    case Consent::denied:
      return "denied";
    case Consent::blocked:
      return "blocked";
  }
  return "unknown";
}

std::optional<Consent> parse_consent(std::string_view text) {
  if (text == "allowed") return Consent::allowed;
  if (text == "denied") return Consent::denied;
  if (text == "blocked") return Consent::blocked;
  return std::nullopt;
}

Result<GroupId> parse_group_id(std::string_view text, std::size_t max_bytes) {
  std::string trimmed(text);
  while (!trimmed.empty() && trimmed.back() == '=') trimmed.pop_back();
  const bool url = trimmed.find_first_of("-_") != std::string::npos;
  const bool standard = trimmed.find_first_of("+/") != std::string::npos;
  std::optional<mls::Bytes> bytes;
  if (!(url && standard) && !trimmed.empty() && trimmed.size() <= (max_bytes + 2) / 3 * 4) {
    bytes = base64_decode(
        trimmed, standard ? sodium_base64_VARIANT_ORIGINAL_NO_PADDING : sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  }
  if (!bytes || bytes->empty() || bytes->size() > max_bytes) {
    return bad_input("invalid_group_id",
                     fmt::format("a group id is the base64 of 1 to {} bytes (the MLS group id)", max_bytes));
  }
  return GroupId{base64_encode(*bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), std::move(*bytes)};
}

Result<mls::Bytes> decode_base64_field(std::string_view text, std::string_view field, std::size_t max_bytes,
                                       std::string_view too_large_code) {
  if (text.size() > (max_bytes + 2) / 3 * 4) {
    return make_error(ErrorKind::too_large, std::string(too_large_code),
                      fmt::format("{} is at most {} bytes", field, max_bytes));
  }
  auto bytes = base64_decode(text, sodium_base64_VARIANT_ORIGINAL);
  if (!bytes) return bad_input("invalid_field", fmt::format("{} must be standard base64", field));
  if (bytes->size() > max_bytes) {
    return make_error(ErrorKind::too_large, std::string(too_large_code),
                      fmt::format("{} is at most {} bytes", field, max_bytes));
  }
  return std::move(*bytes);
}

std::string encode_base64(const mls::Bytes& bytes) {
  return base64_encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}

Result<NewGroup> parse_new_group(const json::object& body, const eth::Address& creator, const E2eSettings& settings) {
  NewGroup g;
  const auto* id = body.if_contains("group_id");
  if (id == nullptr || !id->is_string()) return bad_input("invalid_group_id", "group_id must be a base64 string");
  auto parsed = parse_group_id(std::string_view(id->as_string()));
  if (!parsed) return parsed.error();
  g.group_id = std::move(*parsed);
  const auto* kind = body.if_contains("kind");
  std::optional<GroupKind> k;
  if (kind != nullptr && kind->is_string()) k = parse_group_kind(std::string_view(kind->as_string()));
  if (!k) return bad_input("invalid_field", "kind must be dm or group");
  g.kind = *k;
  auto members = address_list(body, "members", settings.max_group_members);
  if (!members) return members.error();
  for (const auto& m : *members) {
    if (m != creator) g.members.push_back(m);
  }
  if (g.kind == GroupKind::dm && g.members.size() != 1) {
    return bad_input("invalid_members", "a dm has exactly one member besides its creator");
  }
  if (g.members.size() + 1 > settings.max_group_members) {
    return make_error(ErrorKind::too_large, "too_many_members",
                      fmt::format("a group has at most {} member accounts", settings.max_group_members));
  }
  return g;
}

Result<Post> parse_post(const json::object& body, const GroupId& group, const E2eSettings& settings) {
  Post p;
  const auto* message = body.if_contains("message");
  if (message == nullptr || !message->is_string()) return bad_input("invalid_field", "message must be base64");
  p.message = std::string(message->as_string());
  auto bytes = decode_base64_field(p.message, "message", settings.max_message_bytes, "message_too_large");
  if (!bytes) return bytes.error();
  if (const auto* client_id = body.if_contains("client_id"); client_id != nullptr && !client_id->is_null()) {
    if (!client_id->is_string() || client_id->as_string().empty() ||
        client_id->as_string().size() > settings.max_client_id_chars) {
      return bad_input("invalid_field",
                       fmt::format("client_id must be a string of 1 to {} bytes", settings.max_client_id_chars));
    }
    p.client_id = std::string(client_id->as_string());
  }
  auto decoded = mls::decode_message(*bytes);
  if (!decoded) {
    return bad_input("invalid_mls_message",
                     fmt::format("message is not an MLSMessage ({})", mls::to_string(decoded.error())));
  }
  if (!decoded->header) {
    return bad_input("invalid_wire_format", "a group message is a PublicMessage or a PrivateMessage");
  }
  p.header = std::move(*decoded->header);
  if (p.header.group_id != group.bytes) {
    return bad_input("group_id_mismatch", "the message's MLS group id is not this group's");
  }
  // Application data in the clear would defeat the point; RFC 9420 §6.2 requires it encrypted.
  if (p.header.content_type == mls::ContentType::application &&
      p.header.wire_format != mls::WireFormat::private_message) {
    return bad_input("application_not_private", "application messages must be PrivateMessages");
  }
  const bool commit = p.header.content_type == mls::ContentType::commit;
  auto add = address_list(body, "add_members", settings.max_member_changes);
  if (!add) return add.error();
  auto remove = address_list(body, "remove_members", settings.max_member_changes);
  if (!remove) return remove.error();
  p.add_members = std::move(*add);
  p.remove_members = std::move(*remove);
  if (!commit && (!p.add_members.empty() || !p.remove_members.empty())) {
    return bad_input("member_change_without_commit", "add_members and remove_members travel with a commit");
  }
  if (const auto* welcomes = body.if_contains("welcomes"); welcomes != nullptr && !welcomes->is_null()) {
    if (!welcomes->is_array()) return bad_input("invalid_field", "welcomes must be an array");
    if (!commit && !welcomes->as_array().empty()) {
      return bad_input("welcome_without_commit", "welcomes travel with the commit that adds their devices");
    }
    std::size_t targets = 0;
    for (const auto& w : welcomes->as_array()) {
      const auto* o = w.if_object();
      const auto* text = o != nullptr ? o->if_contains("welcome") : nullptr;
      if (text == nullptr || !text->is_string()) {
        return bad_input("invalid_field",
                         "each welcome is {\"device_id\" or \"device_ids\": [...], \"welcome\": \"<base64>\"}");
      }
      // One Welcome serves every device it adds: {"device_ids": [...]} sends it once.
      std::vector<std::string> devices;
      const auto* one = o->if_contains("device_id");
      const auto* many = o->if_contains("device_ids");
      if (one != nullptr && one->is_string()) devices.emplace_back(one->as_string());
      if (many != nullptr && many->is_array()) {
        for (const auto& d : many->as_array()) {
          if (!d.is_string()) return bad_input("invalid_field", "device_ids must be strings");
          devices.emplace_back(d.as_string());
        }
      }
      if (devices.empty()) return bad_input("invalid_field", "a welcome names its device_id or device_ids");
      targets += devices.size();
      if (targets > settings.max_welcomes_per_post) {
        return make_error(ErrorKind::too_large, "too_many_welcomes",
                          fmt::format("at most {} welcomed devices per commit", settings.max_welcomes_per_post));
      }
      auto welcome_bytes = decode_base64_field(std::string_view(text->as_string()), "welcome",
                                               settings.max_welcome_bytes, "welcome_too_large");
      if (!welcome_bytes) return welcome_bytes.error();
      auto welcome = mls::decode_message(*welcome_bytes);
      if (!welcome || !welcome->welcome) {
        return bad_input("invalid_welcome", "each welcome must be an MLSMessage carrying a Welcome");
      }
      for (auto& d : devices) {
        if (d.empty() || d.size() > 64) return bad_input("invalid_field", "a device id is 1 to 64 characters");
        p.welcomes.push_back({std::move(d), std::string(text->as_string())});
      }
    }
  }
  return p;
}

}  // namespace gh::e2e
