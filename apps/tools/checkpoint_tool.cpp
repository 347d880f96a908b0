// checkpoint_tool: validates snode checkpoints and compares two of them bit for bit.
//
//   checkpoint_tool check FILE        loads FILE with LoadCheckpoint (magic, version, checksum,
//                                     sizes, finite values, counter bounds) and runs
//                                     ValidateTrainingCheckpoint, the validation mnist_classifier
//                                     --resume and --evaluate run (RNG state, Adam moments,
//                                     position); prints one line: epoch, iteration, optimiser
//                                     step, blocks and values.
//   checkpoint_tool compare A B       loads both and compares what determines the rest of a
//                                     training run: the architecture, every parameter block and
//                                     optimiser-state block (names, sizes and the bytes of every
//                                     double), the optimiser name and step, the RNG state, epoch
//                                     and iteration. Metadata (which holds wall times) is ignored.
//
// compare validates both files as check does before comparing them.
// Exit status: 0 valid / identical, 1 the two checkpoints differ, 2 a file does not load or the
// command line is wrong (one line "error: ..." on stderr). Used by scripts/kill_resume.sh.

#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"

namespace snode {
namespace {

constexpr int kDiffer = 1;
constexpr int kBadInput = 2;

long TotalValues(const std::vector<NamedBlock>& blocks) {
  long total = 0;
  for (const NamedBlock& block : blocks) total += static_cast<long>(block.values.size());
  return total;
}

// What --resume and --evaluate accept: the file's format and its contents.
Checkpoint LoadValid(const std::string& path) {
  Checkpoint c = LoadCheckpoint(path);
  ValidateTrainingCheckpoint(c, path);
  return c;
}

int Check(const std::string& path) {
  const Checkpoint c = LoadValid(path);
  std::cout << "ok " << path << ": epoch " << c.epoch << ", iteration " << c.iteration
            << ", optimiser step " << c.optimizer_step << ", " << c.parameters.size()
            << " parameter blocks (" << TotalValues(c.parameters) << " values), "
            << c.optimizer_state.size() << " optimiser blocks (" << TotalValues(c.optimizer_state)
            << " values)\n";
  return 0;
}

// Appends one line per difference between two lists of blocks; bitwise, so -0.0 != 0.0 and
// NaN payloads count (LoadCheckpoint has already rejected NaN/Inf).
void CompareBlocks(const std::string& kind, const std::vector<NamedBlock>& a,
                   const std::vector<NamedBlock>& b, std::vector<std::string>& differences) {
  if (a.size() != b.size()) {
    differences.push_back(kind + ": " + std::to_string(a.size()) + " vs " +
                          std::to_string(b.size()) + " blocks");
    return;
  }
  for (std::size_t k = 0; k < a.size(); ++k) {
    const Vector& x = a[k].values;
    const Vector& y = b[k].values;
    if (a[k].name != b[k].name || x.size() != y.size()) {
      differences.push_back(kind + " block " + std::to_string(k) + ": '" + a[k].name + "' (" +
                            std::to_string(x.size()) + ") vs '" + b[k].name + "' (" +
                            std::to_string(y.size()) + ")");
      continue;
    }
    long count = 0;
    Index first = -1;
    for (Index i = 0; i < x.size(); ++i) {
      if (std::memcmp(&x[i], &y[i], sizeof(double)) != 0) {
        if (first < 0) first = i;
        ++count;
      }
    }
    if (count > 0) {
      std::ostringstream line;
      line.precision(17);
      line << kind << " block '" << a[k].name << "': " << count << " of " << x.size()
           << " values differ (first at " << first << ": " << x[first] << " vs " << y[first]
           << "; max |diff| " << (x - y).cwiseAbs().maxCoeff() << ")";
      differences.push_back(line.str());
    }
  }
}

int Compare(const std::string& a_path, const std::string& b_path) {
  const Checkpoint a = LoadValid(a_path);
  const Checkpoint b = LoadValid(b_path);
  std::vector<std::string> differences;
  if (a.architecture != b.architecture) {
    differences.push_back("architecture: '" + a.architecture + "' vs '" + b.architecture + "'");
  }
  CompareBlocks("parameter", a.parameters, b.parameters, differences);
  CompareBlocks("optimiser", a.optimizer_state, b.optimizer_state, differences);
  if (a.optimizer != b.optimizer || a.optimizer_step != b.optimizer_step) {
    differences.push_back("optimiser: " + a.optimizer + " step " +
                          std::to_string(a.optimizer_step) + " vs " + b.optimizer + " step " +
                          std::to_string(b.optimizer_step));
  }
  if (a.rng_state != b.rng_state) differences.push_back("RNG state differs");
  if (a.epoch != b.epoch || a.iteration != b.iteration) {
    differences.push_back("position: epoch " + std::to_string(a.epoch) + " iteration " +
                          std::to_string(a.iteration) + " vs epoch " + std::to_string(b.epoch) +
                          " iteration " + std::to_string(b.iteration));
  }
  if (differences.empty()) {
    std::cout << "identical: " << TotalValues(a.parameters) << " parameter values and "
              << TotalValues(a.optimizer_state) << " optimiser values bit for bit, optimiser step "
              << a.optimizer_step << ", RNG state, epoch " << a.epoch << ", iteration "
              << a.iteration << "\n";
    return 0;
  }
  std::cout << "DIFFERENT: " << a_path << " vs " << b_path << "\n";
  for (const std::string& line : differences) std::cout << "  " << line << "\n";
  return kDiffer;
}

constexpr char kUsage[] =
    "usage: checkpoint_tool check FILE\n"
    "       checkpoint_tool compare A B\n";

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  if (args.size() == 2 && args[0] == "check") return Check(args[1]);
  if (args.size() == 3 && args[0] == "compare") return Compare(args[1], args[2]);
  std::cerr << "error: bad arguments (see --help)\n" << kUsage;
  return kBadInput;
}

}  // namespace
}  // namespace snode

int main(int argc, char** argv) {
  try {
    return snode::Main(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return snode::kBadInput;
  }
}
