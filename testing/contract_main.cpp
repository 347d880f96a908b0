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

#include "core/errors.hpp"
#include "testing/integrator_contract.hpp"

#if SNODE_CONTRACT_HAS_PLUGINS
#include "plugins/plugin_loader.hpp"
#endif
#if SNODE_CONTRACT_HAS_TABLEAU_FILES
#include "integrators/tableau_file.hpp"
#endif

int main(int argc, char** argv) {
  snode::contract::ExtraFlags flags;
  flags["--plugin"] = [](const std::string& path) {
#if SNODE_CONTRACT_HAS_PLUGINS
    snode::LoadPlugin(path);
#else
    throw snode::ConfigError("--plugin " + path + ": this build of snode has no plug-in loader");
#endif
  };
  flags["--tableau"] = [](const std::string& file) {
#if SNODE_CONTRACT_HAS_TABLEAU_FILES
    snode::RegisterTableauFile(file);
#else
    throw snode::ConfigError("--tableau " + file +
                             ": this build of snode cannot read tableau files");
#endif
  };
  return snode::contract::RunIntegratorContract(argc, argv, flags);
}
