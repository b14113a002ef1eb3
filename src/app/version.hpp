#pragma once

namespace gh::app {

/// The product version, from CMake's project() version.
const char* version_string() noexcept;

}  // namespace gh::app
