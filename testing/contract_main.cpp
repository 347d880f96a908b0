// snode_integrator_contract: runs the integrator contract (testing/integrator_contract.hpp) on the
// methods named by --integrator, after loading the plug-ins of SNODE_PLUGIN_PATH, then --plugin
// shared libraries and --tableau files (both repeatable, applied in command-line order before the
// subjects are created).
//
//   snode_integrator_contract --plugin ./libbs32.so --integrator bs32 --setting rtol=1e-9
//                             --setting tolerance=1e-6 --gtest_filter='ContractOrder*'
//
// Exit code 0 when every test passed, 1 on a failed test, 2 on a usage or loading error.
#include <cstdio>
#include <exception>
#include <string>

#include "integrators/tableau_integrator.hpp"
#include "plugins/plugin_loader.hpp"
#include "testing/integrator_contract.hpp"

int main(int argc, char** argv) {
  try {
    snode::LoadPluginsFromEnvironment();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 2;
  }
  snode::contract::ExtraFlags flags;
  flags["--plugin"] = [](const std::string& path) { snode::LoadPlugin(path); };
  flags["--tableau"] = [](const std::string& file) { snode::RegisterTableauFile(file); };
  return snode::contract::RunIntegratorContract(argc, argv, flags);
}
