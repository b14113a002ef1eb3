#pragma once
// Every SQL statement of the realtime context, as functions on an open transaction. No rules here.
// Accounts are lowercase hex addresses; times are Unix milliseconds.
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "realtime/model.hpp"
#include "store/database.hpp"

namespace gh::realtime::sql {

using store::Tx;

/// The presence the account chose; nothing when it never chose one (or went back to the default).
std::optional<Presence> find_presence(Tx& tx, const std::string& account);
/// Stores the account's presence; the default one (online, no custom status) deletes its row.
void save_presence(Tx& tx, const std::string& account, const Presence& presence, SystemTime now);

}  // namespace gh::realtime::sql
