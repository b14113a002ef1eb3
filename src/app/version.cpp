#include "app/version.hpp"

namespace gh::app {

const char* version_string() noexcept {
  return GATEHOUSE_VERSION;
}

}  // namespace gh::app
