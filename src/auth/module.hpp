#pragma once
// auth as a context module: its migrations, the objects it builds once the database is up, and
// its routes. It provides AuthService and RequestAuth to the modules after it.
#include "auth/model.hpp"
#include "auth/routes.hpp"
#include "context/module.hpp"

namespace gh::auth {

/// Everything auth takes from the process's settings.
struct AuthModuleSettings {
  AuthSettings auth;
  SignInLimits sign_in;
  KeyFetchLimits key_fetch;
};

/// The auth context's module description.
context::ContextModule make_module(AuthModuleSettings settings);

}  // namespace gh::auth
