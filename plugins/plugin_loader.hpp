#pragma once
// Loading plug-ins (plugins/plugin.hpp) into this process's IntegratorRegistry(),
// GradientRegistry() and problems::ProblemRegistry(). The apps call LoadPluginsFromEnvironment()
// and then LoadPlugin() for every
// `--plugin PATH` right after parsing their flags, before any name is looked up.
//
// A plug-in is opened with dlopen(RTLD_NOW | RTLD_LOCAL) and never closed: the factories it
// registered, and the objects they create, run its code. Loading is all or nothing: the staged
// names are committed only when the entry point succeeded and every name is free (in the registry
// and within the plug-in), otherwise nothing is registered. Thread-safe (one mutex), but must not
// run concurrently with code that uses the registries.

#include <string>
#include <vector>

namespace snode {

// Loads the plug-in at path. The same file (same canonical path) loaded twice is a no-op.
// Throws
//   InputError  the file does not exist, or dlopen fails (not a shared object, an unresolved
//               symbol, ...; the message carries dlerror()'s text);
//   ConfigError the file has no snode entry point ("... is not an snode plug-in (no symbol ...)"),
//               was built for another kPluginAbiVersion (both versions named), threw during
//               registration (its message), or registers a name that is taken or not snake_case
//               (the name and the plug-in named).
void LoadPlugin(const std::string& path);

// Loads every entry of the environment variable SNODE_PLUGIN_PATH (colon-separated; empty entries
// are skipped): a file is loaded, a directory has its *.so files loaded in sorted order. Unset or
// empty: nothing. An entry that does not exist is an InputError naming it and the variable.
void LoadPluginsFromEnvironment();

// Canonical paths of the plug-ins loaded so far, in load order.
std::vector<std::string> LoadedPlugins();

}  // namespace snode
