// gatehouse: parse the command line into settings, run the command. Exit codes (API.md):
// 0 clean stop, 2 bad configuration (one line on stderr), 1 anything else.
#include <cstdio>
#include <exception>

#include "app/jobs_command.hpp"
#include "app/server_app.hpp"
#include "app/settings.hpp"
#include "app/version.hpp"

int main(int argc, char** argv) {
  try {
    auto command = gh::app::parse_command_line(argc, argv, gh::app::environment_map());
    if (!command) {
      std::fprintf(stderr, "gatehouse: %s\n", command.error().message.c_str());
      return 2;
    }
    if (command->name == "help") {
      std::fputs(command->help_text.c_str(), stdout);
      return 0;
    }
    if (command->name == "version") {
      std::printf("gatehouse %s\n", gh::app::version_string());
      return 0;
    }
    if (command->name == "dev-chain") return gh::app::run_dev_chain(command->dev_chain);
    if (command->name == "migrate") return gh::app::run_migrate(command->settings);
    if (command->name == "apikey-create") {
      return gh::app::run_apikey_create(command->settings, command->apikey_name, command->apikey_scopes);
    }
    if (command->name == "indexer-status") return gh::app::run_indexer_status(command->settings);
    if (command->name == "indexer-reindex") {
      return gh::app::run_indexer_reindex(command->settings, command->indexer_chain, command->indexer_pipeline,
                                          command->indexer_from);
    }
    if (command->name == "indexer-track") {
      return gh::app::run_indexer_track(command->settings, command->indexer_chain, command->indexer_pipeline,
                                        command->indexer_address, command->indexer_from);
    }
    if (command->name == "jobs-list") return gh::app::run_jobs_list(command->settings);
    if (command->name == "jobs-run") return gh::app::run_jobs_run(command->settings, command->job_name);
    if (command->name == "apikey-list") return gh::app::run_apikey_list(command->settings);
    if (command->name == "apikey-revoke") return gh::app::run_apikey_revoke(command->settings, command->apikey_id);
    return gh::app::run_server(command->settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gatehouse: %s\n", e.what());
    return 1;
  }
}
