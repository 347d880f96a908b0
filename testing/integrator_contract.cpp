#include "testing/integrator_contract.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <exception>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "core/errors.hpp"
#include "core/settings.hpp"
#include "testing/contract_fixture.hpp"

namespace snode::contract {

namespace {

std::vector<ContractSubject>& MutableSubjects() {
  static std::vector<ContractSubject> subjects;
  return subjects;
}

// "a,b,,c" → {"a", "b", "c"}.
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

constexpr const char* kUsage =
    "usage: snode_integrator_contract --integrator NAME[,NAME...] [--setting KEY=VALUE]...\n"
    "       [--plugin PATH]... [--tableau FILE]... [GoogleTest flags, e.g. --gtest_filter=...]\n"
    "settings: rtol, atol, fixed_step, initial_step, initial_step_estimate, step_controller,\n"
    "          max_step, max_steps, linear_solver, preconditioner, max_nonlinear_iters,\n"
    "          krylov_max_dim, tolerance\n";

// What the command line asked for.
struct RunnerArguments {
  std::vector<std::string> integrators;
  std::vector<std::string> settings;
  std::vector<char*> gtest_argv;  // argv[0] and everything not ours
};

// Flags taking a value: "--flag VALUE" or "--flag=VALUE". Returns the value and advances i.
bool TakeValue(int argc, char** argv, int& i, const std::string& flag, std::string& value) {
  const std::string arg = argv[i];
  if (arg == flag) {
    if (i + 1 >= argc) throw ConfigError("flag " + flag + " needs a value");
    value = argv[++i];
    return true;
  }
  if (arg.rfind(flag + "=", 0) == 0) {
    value = arg.substr(flag.size() + 1);
    return true;
  }
  return false;
}

RunnerArguments ParseRunnerArguments(int argc, char** argv, const ExtraFlags& extra_flags) {
  RunnerArguments parsed;
  parsed.gtest_argv.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    std::string value;
    if (TakeValue(argc, argv, i, "--integrator", value)) {
      for (const std::string& name : SplitList(value)) parsed.integrators.push_back(name);
      continue;
    }
    if (TakeValue(argc, argv, i, "--setting", value)) {
      parsed.settings.push_back(value);
      continue;
    }
    bool extra = false;
    for (const auto& [flag, action] : extra_flags) {
      if (!extra && TakeValue(argc, argv, i, flag, value)) {
        action(value);
        extra = true;
      }
    }
    if (!extra) parsed.gtest_argv.push_back(argv[i]);
  }
  Require(!parsed.integrators.empty(), "no --integrator given");
  return parsed;
}

}  // namespace

ContractSubject DefaultContractSubject(const std::string& integrator) {
  ContractSubject subject;
  subject.integrator = integrator;
  subject.settings.rtol = 1e-8;
  subject.settings.atol = 1e-10;
  subject.tolerance = 1e-5;
  return subject;
}

void ApplyContractSetting(const std::string& key_equals_value, ContractSubject& subject) {
  Settings settings;
  settings.SetFromText(key_equals_value);
  IntegratorOptions& o = subject.settings;
  SettingsReader reader(settings, "integrator contract of '" + subject.integrator + "'");
  reader.Read("rtol", o.rtol);
  reader.Read("atol", o.atol);
  reader.Read("fixed_step", o.fixed_step);
  reader.Read("initial_step", o.initial_step);
  reader.Read("initial_step_estimate", o.initial_step_estimate);
  reader.Read("step_controller", o.step_controller);
  reader.Read("max_step", o.max_step);
  reader.Read("max_steps", o.max_steps);
  reader.Read("linear_solver", o.linear_solver);
  reader.Read("preconditioner", o.preconditioner);
  reader.Read("max_nonlinear_iters", o.max_nonlinear_iters);
  reader.Read("krylov_max_dim", o.krylov_max_dim);
  reader.Read("tolerance", subject.tolerance);
  reader.Finish();
  Require(subject.tolerance > 0.0, "integrator contract setting tolerance must be > 0");
}

void SetContractSubjects(std::vector<ContractSubject> subjects) {
  LinkContractSolveSuite();
  LinkContractHooksSuite();
  LinkContractOrderSuite();
  LinkContractGradientsSuite();
  MutableSubjects() = std::move(subjects);
}

const std::vector<ContractSubject>& ContractSubjects() { return MutableSubjects(); }

void PrintTo(const ContractSubject& subject, std::ostream* os) {
  const IntegratorOptions& o = subject.settings;
  *os << subject.integrator << " {rtol " << o.rtol << ", atol " << o.atol << ", fixed_step "
      << o.fixed_step << ", linear_solver " << o.linear_solver << ", tolerance "
      << subject.tolerance << "}";
}

std::string SubjectTestName(const ::testing::TestParamInfo<ContractSubject>& info) {
  int same = 0;
  for (const ContractSubject& s : ContractSubjects()) same += s.integrator == info.param.integrator;
  return same > 1 ? info.param.integrator + "_" + std::to_string(info.index)
                  : info.param.integrator;
}

void FaultyField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  // Never read `out` before writing it: it may be a fresh, uninitialised solver vector.
  if (mode_ == Mode::kThrowAfterCalls && ++calls_ > calls_before_throw_) {
    throw std::domain_error("field exploded on purpose");
  }
  inner_.F(t, z, theta, out);
  if (mode_ == Mode::kNanAlways || (mode_ == Mode::kNanAfter && t >= t_bad_)) {
    out.setConstant(std::numeric_limits<double>::quiet_NaN());
  }
}

int RunIntegratorContract(int argc, char** argv, const ExtraFlags& extra_flags) {
  RunnerArguments parsed;
  try {
    parsed = ParseRunnerArguments(argc, argv, extra_flags);
    std::vector<ContractSubject> subjects;
    for (const std::string& name : parsed.integrators) {
      ContractSubject subject = DefaultContractSubject(name);
      for (const std::string& setting : parsed.settings) ApplyContractSetting(setting, subject);
      subject.settings.Validate();
      // Unknown names fail here, listing the registered ones, instead of in every test.
      IntegratorRegistry().Create(name, subject.settings);
      subjects.push_back(std::move(subject));
    }
    SetContractSubjects(std::move(subjects));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n%s", error.what(), kUsage);
    return 2;
  }
  int gtest_argc = static_cast<int>(parsed.gtest_argv.size());
  parsed.gtest_argv.push_back(nullptr);
  ::testing::InitGoogleTest(&gtest_argc, parsed.gtest_argv.data());
  if (gtest_argc > 1) {
    std::fprintf(stderr, "error: unknown argument '%s'\n%s", parsed.gtest_argv[1], kUsage);
    return 2;
  }
  return RUN_ALL_TESTS() == 0 ? 0 : 1;
}

}  // namespace snode::contract
