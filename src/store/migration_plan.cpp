#include "store/migration_plan.hpp"

#include <openssl/evp.h>

#include <fmt/format.h>

namespace gh::store {

const std::string& migration_sql(const Migration& migration, Dialect dialect) noexcept {
  return dialect == Dialect::sqlite ? migration.sqlite_sql : migration.postgres_sql;
}

std::string migration_checksum(std::string_view sql) {
  std::string normalized;
  normalized.reserve(sql.size());
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '\r' && i + 1 < sql.size() && sql[i + 1] == '\n') continue;
    normalized.push_back(sql[i]);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(normalized.data(), normalized.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0x0f]);
  }
  return out;
}

std::string migration_label(int version, std::string_view name) {
  return fmt::format("{:04}_{}", version, name);
}

void validate_migration_set(const MigrationSet& set) {
  if (set.module.empty()) throw MigrationError("migration set without a module name");
  int previous = 0;
  for (const auto& m : set.migrations) {
    if (m.version <= 0) {
      throw MigrationError(fmt::format("module '{}': migration {} has a non-positive version", set.module,
                                       migration_label(m.version, m.name)));
    }
    if (m.version <= previous) {
      throw MigrationError(fmt::format("module '{}': migration {} is out of order or duplicates version {}", set.module,
                                       migration_label(m.version, m.name), m.version));
    }
    previous = m.version;
  }
}

}  // namespace gh::store
