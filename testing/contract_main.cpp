// snode_integrator_contract: runs the integrator contract (testing/integrator_contract.hpp) on the
// methods named by --integrator, after loading --plugin shared libraries and registering
// --tableau files (both repeatable, applied in command-line order before the subjects are
// created).
//
//   snode_integrator_contract --plugin ./libbs32.so --integrator bs32 --setting rtol=1e-9
//                             --setting tolerance=1e-6 --gtest_filter='ContractOrder*'
//
// Exit code 0 when every test passed, 1 on a failed test, 2 on a usage or loading error.
#include <string>

#include "integrators/tableau_integrator.hpp"
#include "plugins/plugin_loader.hpp"
#include "testing/integrator_contract.hpp"

int main(int argc, char** argv) {
  snode::contract::ExtraFlags flags;
  flags["--plugin"] = [](const std::string& path) { snode::LoadPlugin(path); };
  flags["--tableau"] = [](const std::string& file) { snode::RegisterTableauFile(file); };
  return snode::contract::RunIntegratorContract(argc, argv, flags);
}
