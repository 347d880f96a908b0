// The stiff gradient validation grid (studies/gradient_validation.hpp) as a program: every
// registered gradient method × adaptive integrator it accepts × tolerance level × problem.
// Prints the references, the skipped combinations, one line per run that is not within its
// bound, the measured C per method, and the summary line
//   gradient validation: N runs, M within bound, K flagged, S silent
// Exit status: 0 when S = 0, 1 when some run is silent, 2 for a bad command line.
//
//   gradient_validation_grid [--level loose|default|tight]... [--problem NAME]...
//                            [--method NAME]... [--integrator NAME]... [--max-steps N]
//                            [--tolerance-check on|off]
//                            [--gradient-option METHOD:NAME=VALUE]... [--all]
// (--all also prints the within-bound runs.)
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "studies/gradient_validation.hpp"
#include "studies/report.hpp"

namespace {

struct CommandLine {
  snode::ValidationOptions options;
  std::vector<std::string> problems;
  bool all = false;
};

template <class T>
std::vector<T> Selected(const std::vector<T>& available, const std::vector<std::string>& names,
                        const char* what) {
  if (names.empty()) return available;
  std::vector<T> chosen;
  for (const std::string& name : names) {
    bool found = false;
    for (const T& item : available) {
      if (item.name == name) {
        chosen.push_back(item);
        found = true;
      }
    }
    snode::Require(found, std::string("unknown ") + what + " '" + name + "'");
  }
  return chosen;
}

CommandLine Parse(int argc, char** argv) {
  CommandLine line;
  std::vector<std::string> levels;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--all") {
      line.all = true;
      continue;
    }
    snode::Require(i + 1 < argc, "flag " + flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--level") {
      levels.push_back(value);
    } else if (flag == "--problem") {
      line.problems.push_back(value);
    } else if (flag == "--method") {
      line.options.methods.push_back(value);
    } else if (flag == "--integrator") {
      line.options.integrators.push_back(value);
    } else if (flag == "--gradient-option") {
      // METHOD:NAME=VALUE
      const auto colon = value.find(':');
      snode::Require(colon != std::string::npos && colon > 0,
                     "--gradient-option is METHOD:NAME=VALUE, got '" + value + "'");
      line.options.method_settings[value.substr(0, colon)].SetFromText(value.substr(colon + 1));
    } else if (flag == "--tolerance-check") {
      snode::Require(value == "on" || value == "off",
                     "--tolerance-check is on or off, got '" + value + "'");
      line.options.tolerance_check = value == "on";
    } else if (flag == "--max-steps") {
      try {
        line.options.max_steps = std::stol(value);
      } catch (const std::exception&) {
        throw snode::ConfigError("--max-steps must be a positive integer, got '" + value + "'");
      }
    } else {
      throw snode::ConfigError("unknown argument '" + flag + "'");
    }
  }
  line.options.levels = Selected(snode::ValidationLevels(), levels, "level");
  return line;
}

void Print(const snode::ValidationResult& result, bool all) {
  for (const auto& reference : result.references) {
    std::printf("reference %s: %s, estimated error %s\n", reference.problem.c_str(),
                reference.source.c_str(), snode::FormatCompact(reference.estimated_error).c_str());
  }
  for (const std::string& note : result.notes) std::printf("%s\n", note.c_str());
  for (const auto& record : result.records) {
    if (all || record.verdict != "within") {
      std::printf("%s\n", snode::FormatRecord(record).c_str());
    }
  }
  for (const auto& [method, c] : result.summary.needed_c) {
    const auto within = result.summary.within_c.find(method);
    std::printf(
        "C %s: documented %s, max error/rtol over within runs %s, over all unflagged "
        "finite runs %s\n",
        method.c_str(), snode::FormatCompact(snode::DocumentedConstant(method)).c_str(),
        within == result.summary.within_c.end() ? "-"
                                                : snode::FormatCompact(within->second).c_str(),
        snode::FormatCompact(c).c_str());
  }
  std::map<std::string, double> seconds;
  for (const auto& record : result.records) seconds[record.method] += record.seconds;
  for (const auto& [method, total] : seconds) {
    std::printf("time %s: %s\n", method.c_str(), snode::FormatSeconds(total).c_str());
  }
  std::printf("false alarms (flagged but within bound): %d\n", result.summary.false_alarms);
  std::printf("%s\n", snode::SummaryLine(result.summary).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine line;
  try {
    line = Parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gradient_validation_grid: error: %s\n", e.what());
    return 2;
  }
  try {
    const auto problems = Selected(snode::DefaultValidationProblems(), line.problems, "problem");
    const snode::ValidationResult result = snode::RunGradientValidation(problems, line.options);
    Print(result, line.all);
    return result.summary.silent == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gradient_validation_grid: error: %s\n", e.what());
    return 2;
  }
}
