#include <map>

#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

std::mutex table_mutex;
// One mutex per field address. A field freed and another allocated at its address share a mutex,
// which only serialises them. Unused entries are purged when the table grows.
std::map<const VectorField*, std::shared_ptr<std::recursive_mutex>> table;
constexpr std::size_t kPurgeAbove = 256;

std::shared_ptr<std::recursive_mutex> MutexFor(const VectorField* field) {
  std::lock_guard<std::mutex> guard(table_mutex);
  auto& entry = table[field];
  if (!entry) entry = std::make_shared<std::recursive_mutex>();
  std::shared_ptr<std::recursive_mutex> result = entry;
  if (table.size() > kPurgeAbove) {
    for (auto it = table.begin(); it != table.end();) {
      it = it->second.use_count() == 1 ? table.erase(it) : std::next(it);
    }
  }
  return result;
}

}  // namespace

FieldLock::FieldLock(const VectorField* field) : mutex_(MutexFor(field)), lock_(*mutex_) {}

}  // namespace snode::python
