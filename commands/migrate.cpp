#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "commands/command.hpp"
#include "commands/common.hpp"

namespace tandem::commands {

Runner add_migrate(CLI::App& sub) {
  auto options = std::make_shared<CommonOptions>();
  add_common_options(sub, *options);
  return [options] {
    std::cerr << "tandem migrate: not built yet in this version\n";
    return 1;
  };
}

}  // namespace tandem::commands
