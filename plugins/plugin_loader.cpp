#include "plugins/plugin_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <system_error>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "plugins/plugin.hpp"
#include "problems/problem_registry.hpp"

namespace snode {

namespace {

namespace fs = std::filesystem;

using AbiVersionFn = int (*)();
using RegisterFn = void (*)(PluginRegistrar*);

struct LoaderState {
  std::mutex mutex;
  std::vector<std::string> loaded;  // canonical paths
};

LoaderState& State() {
  static LoaderState state;
  return state;
}

std::string DlError() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown dlopen error";
}

// The entry point `symbol` of the plug-in, or a ConfigError saying the file is not a plug-in.
void* EntryPoint(void* handle, const char* symbol, const std::string& path) {
  dlerror();
  void* address = dlsym(handle, symbol);
  if (address == nullptr) {
    throw ConfigError("'" + path + "' is not an snode plug-in (no symbol " + symbol +
                      "; define the entry points with SNODE_PLUGIN from plugins/plugin.hpp)");
  }
  return address;
}

// Checks every staged name of one kind: free in the host's registry, staged once, and valid (by
// adding it to a scratch registry, so the naming rules are the registry's own).
template <class RegistryType, class Entries>
void CheckNames(const RegistryType& host, const Entries& entries, const std::string& path) {
  const std::string plugin = "plug-in '" + path + "'";
  const std::string nothing = "; nothing was registered";
  RegistryType scratch(host.kind());
  for (const auto& [name, factory] : entries) {
    if (host.Contains(name)) {
      throw ConfigError(plugin + " registers " + host.kind() + " '" + name +
                        "', which is already registered" + nothing);
    }
    if (scratch.Contains(name)) {
      throw ConfigError(plugin + " registers " + host.kind() + " '" + name + "' twice" + nothing);
    }
    try {
      scratch.Add(name, factory);
    } catch (const ConfigError& e) {
      throw ConfigError(plugin + ": " + e.what() + nothing);
    }
  }
}

template <class RegistryType, class Entries>
void Commit(RegistryType& host, const Entries& entries) {
  for (const auto& [name, factory] : entries) host.Add(name, factory);
}

// Opens the shared object, checks its ABI version and runs its entry point into registrar.
void RunEntryPoint(const std::string& path, PluginRegistrar& registrar) {
  // Never closed: see the file comment of plugin_loader.hpp.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw InputError("cannot load plug-in '" + path + "': " + DlError());
  }
  const auto abi_version =
      reinterpret_cast<AbiVersionFn>(EntryPoint(handle, kPluginAbiVersionSymbol, path));
  const auto register_fn =
      reinterpret_cast<RegisterFn>(EntryPoint(handle, kPluginRegisterSymbol, path));
  const int version = abi_version();
  if (version != kPluginAbiVersion) {
    throw ConfigError("plug-in '" + path + "' was built for snode plug-in ABI version " +
                      std::to_string(version) + ", this snode has version " +
                      std::to_string(kPluginAbiVersion) + "; rebuild it against this snode");
  }
  register_fn(&registrar);
  if (registrar.failed()) {
    throw ConfigError("plug-in '" + path + "' failed during registration: " + registrar.error() +
                      "; nothing was registered");
  }
}

}  // namespace

void LoadPlugin(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) {
    throw InputError("plug-in file '" + path + "' does not exist");
  }
  // dlopen would block on a FIFO and read a device: only regular files are loaded.
  if (!fs::is_regular_file(path, error)) {
    throw InputError("plug-in file '" + path +
                     "' is not a regular file (a directory, device or pipe)");
  }
  const std::string canonical = fs::canonical(path, error).string();
  if (error) throw InputError("plug-in file '" + path + "': " + error.message());

  LoaderState& state = State();
  const std::lock_guard<std::mutex> lock(state.mutex);
  if (std::find(state.loaded.begin(), state.loaded.end(), canonical) != state.loaded.end()) return;

  PluginRegistrar registrar;
  RunEntryPoint(canonical, registrar);
  CheckNames(IntegratorRegistry(), registrar.integrators(), canonical);
  CheckNames(GradientRegistry(), registrar.gradient_methods(), canonical);
  CheckNames(problems::ProblemRegistry(), registrar.problems(), canonical);
  Commit(IntegratorRegistry(), registrar.integrators());
  Commit(GradientRegistry(), registrar.gradient_methods());
  Commit(problems::ProblemRegistry(), registrar.problems());
  state.loaded.push_back(canonical);
}

namespace {

// The *.so files directly in directory, sorted.
std::vector<std::string> SharedObjectsIn(const fs::path& directory) {
  std::vector<std::string> files;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error) && it->path().extension() == ".so") {
      files.push_back(it->path().string());
    }
  }
  if (error) {
    throw InputError("cannot list plug-in directory '" + directory.string() +
                     "' (SNODE_PLUGIN_PATH): " + error.message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

void LoadPluginsFromEnvironment() {
  const char* value = std::getenv("SNODE_PLUGIN_PATH");
  if (value == nullptr) return;
  std::stringstream stream(value);
  std::string entry;
  while (std::getline(stream, entry, ':')) {
    if (entry.empty()) continue;
    std::error_code error;
    if (fs::is_directory(entry, error)) {
      for (const std::string& file : SharedObjectsIn(entry)) LoadPlugin(file);
    } else if (fs::exists(entry, error)) {
      LoadPlugin(entry);
    } else {
      throw InputError("SNODE_PLUGIN_PATH names '" + entry + "', which does not exist");
    }
  }
}

std::vector<std::string> LoadedPlugins() {
  LoaderState& state = State();
  const std::lock_guard<std::mutex> lock(state.mutex);
  return state.loaded;
}

}  // namespace snode
