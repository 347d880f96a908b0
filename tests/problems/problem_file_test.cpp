// Problems from files (problems/problem_file.hpp): the reaction-network field's derivative
// products against central differences; robertson.json against the built-in Robertson problem
// (field values and Jacobians to round-off, the CVODES-adjoint gradient at rtol 1e-12 to 1e-8
// relative); the linear system's exact gradient against central differences of its closed-form
// loss (1e-7 relative) and against a solver gradient; a loss with data (adjoint vs differences);
// registration; and every malformed-file case against the text of its error.
#include "problems/problem_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "problems/linear_system.hpp"
#include "problems/reaction_network.hpp"
#include "problems/robertson.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

const std::string kExamples = SNODE_PROBLEM_EXAMPLES_DIR;

std::string Example(const std::string& name) { return kExamples + "/" + name; }

// A scratch directory for the files the tests write, removed at the end.
class ProblemFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("snode_problem_file_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

// A valid network; each case below breaks one thing.
nlohmann::json BaseNetwork() {
  return nlohmann::json::parse(R"({
    "format": "snode-problem", "version": 1, "kind": "reaction_network", "name": "base",
    "species": [{"name": "A", "initial": 1}, {"name": "B"}],
    "reactions": [{"reactants": {"A": 1}, "products": {"B": 1}, "rate": {"lambda": 1}}],
    "times": [0.5, 1], "loss": {"weights": {"B": 1}}, "stiffness": {"default": [1, 10]}
  })");
}

nlohmann::json BaseLinear() {
  return nlohmann::json::parse(R"({
    "format": "snode-problem", "version": 1, "kind": "linear", "name": "base_linear",
    "matrix": [[-1, 0], [1, -2]], "initial": [1, 0], "times": [1], "loss": {"weights": [1, 1]}
  })");
}

GradientOptions Tight(const std::string& integrator) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = 1e-12;
  options.integrator_options.atol = 1e-20;
  options.integrator_options.max_steps = 1000000;
  return options;
}

LossAndGradient CvodesAdjoint(const ProblemSetup& setup, const GradientOptions& options) {
  auto method = GradientRegistry().Create("cvodes_adjoint", options);
  return method->Compute(setup.ode, *setup.loss);
}

bool HaveCvodes() {
  return GradientRegistry().Contains("cvodes_adjoint") &&
         IntegratorRegistry().Contains("cvodes_bdf");
}

// Central differences of L over [θ; z0] through the tight CVODES forward solve, with steps
// step·max(1, |x_i|). The default step of CentralDifferenceGradient (1e-6) lands in the solve's
// noise (≈1e-11 in L, 5e-6 relative in the quotient); 1e-4 leaves a truncation error ≈1e-8.
Vector LossDifferences(const ProblemSetup& setup, const GradientOptions& options, double step) {
  const Index p = setup.ode.theta.size(), n = setup.ode.z0.size();
  Vector x(p + n);
  x << setup.ode.theta, setup.ode.z0;
  const Matrix jacobian = test_util::CentralDifferenceJacobian(
      [&](const Vector& y) {
        ProblemSetup perturbed = setup;
        perturbed.ode.theta = y.head(p);
        perturbed.ode.z0 = y.tail(n);
        return Vector::Constant(1, CvodesAdjoint(perturbed, options).loss);
      },
      x, step);
  return jacobian.row(0).transpose();
}

TEST(ReactionNetworkField, DerivativeProductsMatchCentralDifferences) {
  // Orders up to 3, a source (∅ → A), a sink (C → ∅), autocatalysis (A + B → 2B) and a species
  // on both sides.
  std::vector<Reaction> reactions(5);
  reactions[0].reactants = {{0, 2}, {1, 1}};
  reactions[0].products = {{2, 1}};
  reactions[1].products = {{0, 1}};
  reactions[2].reactants = {{2, 1}};
  reactions[3].reactants = {{0, 1}, {1, 1}};
  reactions[3].products = {{1, 2}};
  reactions[4].reactants = {{1, 3}};
  reactions[4].products = {{1, 1}, {3, 2}};
  ReactionNetworkField field("test_network", 4, reactions);
  EXPECT_EQ(field.state_size(), 4);
  EXPECT_EQ(field.num_params(), 5);
  Vector theta(5);
  theta << 0.7, 1.3, 0.4, 2.1, 0.9;
  Vector z(4);
  z << 0.8, 1.2, 0.5, 0.3;
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(field, 0.0, z, theta, 1e-7));
  z(1) = 0.0;  // a reactant at zero: the partials must not divide by it
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(field, 0.0, z, theta, 1e-7));
  // f itself: f_A = −2 k0 A²B + k1 − k3 AB.
  Vector f(4);
  z << 0.8, 1.2, 0.5, 0.3;
  field.F(0.0, z, theta, f);
  EXPECT_NEAR(f(0), -2 * 0.7 * 0.64 * 1.2 + 1.3 - 2.1 * 0.8 * 1.2, 1e-15);
  auto clone = field.Clone();
  Vector g(4);
  clone->F(0.0, z, theta, g);
  EXPECT_EQ(f, g);
  EXPECT_THROW(ReactionNetworkField("bad", 2, {Reaction{{{2, 1}}, {}}}), ConfigError);
}

TEST(ProblemFile, ExampleFilesLoad) {
  for (const char* file : {"robertson.json", "fast_intermediate.json", "linear_2x2.json"}) {
    SCOPED_TRACE(file);
    const auto definition = LoadProblemFile(Example(file));
    const ProblemCapabilities caps = definition->Capabilities();
    EXPECT_TRUE(caps.sweeps);
    EXPECT_FALSE(caps.description.empty());
    ASSERT_FALSE(caps.default_lambdas.empty());
    for (const double lambda : caps.default_lambdas) {
      const ProblemSetup setup = definition->Make(lambda);
      EXPECT_NO_THROW(setup.ode.Validate());
      EXPECT_EQ(setup.stiffness, lambda);
      EXPECT_EQ(setup.exact_gradient.has_value(), caps.exact_gradient);
    }
  }
  const auto network = LoadProblemFile(Example("fast_intermediate.json"));
  EXPECT_TRUE(network->Capabilities().positive_states);
  EXPECT_FALSE(network->Capabilities().exact_gradient);
  EXPECT_EQ(network->Capabilities().atol_scale, 1e-6);
  const ProblemSetup slow = network->Make(10.0), fast = network->Make(1e5);
  EXPECT_EQ(slow.ode.theta(1), 10.0);  // the rate written {"lambda": 1}
  EXPECT_EQ(fast.ode.theta(1), 1e5);
  EXPECT_EQ(slow.ode.theta(0), fast.ode.theta(0));
  ASSERT_EQ(slow.ode.output_times.size(), 20u);
  EXPECT_DOUBLE_EQ(slow.ode.output_times.front(), 0.01);
  EXPECT_EQ(slow.ode.output_times.back(), 10.0);
  EXPECT_THROW(network->Make(-1.0), ConfigError);  // below /stiffness/min
  const auto linear = LoadProblemFile(Example("linear_2x2.json"));
  EXPECT_TRUE(linear->Capabilities().exact_gradient);
  EXPECT_FALSE(linear->Capabilities().positive_states);
  EXPECT_EQ(linear->Make(100.0).ode.theta(3), -100.0);  // A(1,1) = −λ, column-major
}

TEST(ProblemFile, NetworkFieldFromAFileMatchesCentralDifferences) {
  const ProblemSetup setup = LoadProblemFile(Example("fast_intermediate.json"))->Make(100.0);
  Vector z(4);
  z << 0.6, 0.01, 0.2, 0.1;
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(*setup.ode.field, 0.0, z,
                                                                setup.ode.theta, 1e-7));
}

TEST(ProblemFile, StiffExampleGradientMatchesCentralDifferences) {
  if (!HaveCvodes()) GTEST_SKIP() << "no cvodes";
  const auto definition = LoadProblemFile(Example("fast_intermediate.json"));
  for (const double lambda : {10.0, 1e4}) {
    const ProblemSetup setup = definition->Make(lambda);
    GradientOptions options = Tight("cvodes_bdf");
    options.integrator_options.atol = 1e-14;
    const LossAndGradient result = CvodesAdjoint(setup, options);
    // Stiff at λ = 1e4: the fast rate is the Jacobian's largest eigenvalue.
    Matrix jacobian(4, 4);
    setup.ode.field->DenseJacobian(0.0, setup.ode.z0, setup.ode.theta, jacobian);
    EXPECT_GE(jacobian.cwiseAbs().maxCoeff(), lambda);
    const Vector fd = LossDifferences(setup, options, 1e-4);
    // dL/dθ only, as a study does for positive_states.
    EXPECT_LE(test_util::MaxRelativeError(result.dtheta, fd.head(4)), 1e-6)
        << "λ = " << lambda << "\nadjoint: " << result.dtheta.transpose()
        << "\nfd:      " << fd.head(4).transpose();
  }
}

TEST_F(ProblemFileTest, AFileWithoutLambdaDoesNotSweep) {
  nlohmann::json json = BaseNetwork();
  json["reactions"][0]["rate"] = 2.0;
  json.erase("stiffness");
  const auto definition = LoadProblemFile(Write("plain.json", json.dump()));
  const ProblemCapabilities caps = definition->Capabilities();
  EXPECT_FALSE(caps.sweeps);
  EXPECT_EQ(caps.default_lambdas.size(), 1u);
  const ProblemSetup setup = definition->Make(123.0);  // λ is ignored
  EXPECT_EQ(setup.stiffness, 0.0);
  EXPECT_EQ(setup.ode.theta(0), 2.0);
}

TEST(ProblemFile, MakeRunsConcurrentlyOnOneDefinition) {
  const auto definition = LoadProblemFile(Example("linear_2x2.json"));
  const Vector expected = *definition->Make(1e3).exact_gradient;
  std::vector<Vector> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = *definition->Make(1e3).exact_gradient; });
  }
  for (auto& thread : threads) thread.join();
  for (const Vector& result : results) EXPECT_EQ(result, expected);
}

TEST(ProblemFile, RobertsonFileIsTheBuiltInRobertson) {
  const auto definition = LoadProblemFile(Example("robertson.json"));
  EXPECT_EQ(definition->Capabilities().parameter, "T");
  for (const double horizon : {40.0, 1e4}) {
    const ProblemSetup file = definition->Make(horizon);
    const ProblemSetup builtin = MakeRobertson(horizon);
    EXPECT_EQ(file.ode.theta, builtin.ode.theta);
    EXPECT_EQ(file.ode.z0, builtin.ode.z0);
    EXPECT_EQ(file.ode.output_times, builtin.ode.output_times);
    Vector z(3);
    z << 0.7, 2e-5, 0.3;
    Vector f_file(3), f_builtin(3);
    file.ode.field->F(0.0, z, file.ode.theta, f_file);
    builtin.ode.field->F(0.0, z, builtin.ode.theta, f_builtin);
    EXPECT_TRUE(test_util::VectorsClose(f_file, f_builtin, 1e-14, 1e-20));
    Matrix j_file(3, 3), j_builtin(3, 3);
    file.ode.field->DenseJacobian(0.0, z, file.ode.theta, j_file);
    builtin.ode.field->DenseJacobian(0.0, z, builtin.ode.theta, j_builtin);
    EXPECT_LE((j_file - j_builtin).norm(), 1e-14 * j_builtin.norm());
    if (!HaveCvodes()) continue;
    const Vector g_file = CvodesAdjoint(file, Tight("cvodes_bdf")).Joined();
    const Vector g_builtin = CvodesAdjoint(builtin, Tight("cvodes_bdf")).Joined();
    // The fields differ in round-off only (the built-in forms y2' from conservation), which
    // changes CVODES's step sequence: measured 7e-10 at T = 40 and 3e-8 at T = 1e4, within the
    // reproducibility of the rtol = 1e-12 solve itself (the built-in against itself at
    // rtol = 0.9e-12: 1e-9 and 5e-8).
    EXPECT_LE(test_util::MaxRelativeError(g_file, g_builtin), horizon < 100.0 ? 1e-8 : 1e-7)
        << "T = " << horizon << "\nfile:     " << g_file.transpose()
        << "\nbuilt-in: " << g_builtin.transpose();
  }
}

// L of a linear setup by the matrix exponential, at θ = vec(A) and z0.
double ClosedFormLoss(const ProblemSetup& setup, const Vector& offset, const Vector& x,
                      const std::vector<Vector>& weights) {
  const Index n = setup.ode.z0.size();
  LinearSystem system;
  system.a = Eigen::Map<const Matrix>(x.data(), n, n);
  system.b = offset;
  system.z0 = x.tail(n);
  system.t0 = setup.ode.t0;
  system.times = setup.ode.output_times;
  system.weights = weights;
  return LinearSystemLoss(system);
}

TEST(ProblemFile, LinearExactGradientMatchesCentralDifferences) {
  const auto definition = LoadProblemFile(Example("linear_2x2.json"));
  const Vector offset = (Vector(2) << 0.5, 0.0).finished();
  const std::vector<Vector> weights(3, Vector::Ones(2));  // "at": "every"
  for (const double lambda : {1.0, 100.0}) {
    const ProblemSetup setup = definition->Make(lambda);
    ASSERT_TRUE(setup.exact_gradient.has_value());
    const Vector& exact = *setup.exact_gradient;
    ASSERT_EQ(exact.size(), 6);
    Vector x(6);
    x << setup.ode.theta, setup.ode.z0;
    const Matrix fd = test_util::CentralDifferenceJacobian(
        [&](const Vector& y) {
          return Vector::Constant(1, ClosedFormLoss(setup, offset, y, weights));
        },
        x, 1e-5);
    EXPECT_LE(test_util::MaxRelativeError(exact, fd.row(0).transpose()), 1e-7)
        << "λ = " << lambda << "\nexact: " << exact.transpose() << "\nfd:    " << fd.row(0);
    if (!HaveCvodes()) continue;
    // The same gradient from the solver (a check of the loss and field wiring).
    const LossAndGradient solved = CvodesAdjoint(setup, Tight("cvodes_bdf"));
    EXPECT_NEAR(solved.loss, ClosedFormLoss(setup, offset, x, weights), 1e-9);
    EXPECT_LE(test_util::MaxRelativeError(solved.Joined(), exact), 1e-8);
  }
}

TEST_F(ProblemFileTest, DataLossGradientMatchesCentralDifferences) {
  if (!HaveCvodes()) GTEST_SKIP() << "no cvodes";
  const std::string path = Write("data.json", R"({
    "format": "snode-problem", "version": 1, "kind": "reaction_network", "name": "fit",
    "species": [{"name": "A", "initial": 1}, {"name": "B"}, {"name": "C"}],
    "reactions": [{"reactants": {"A": 1}, "products": {"B": 1}, "rate": 2},
                  {"reactants": {"B": 2}, "products": {"C": 1}, "rate": {"lambda": 3}}],
    "times": [0.5, 1.0, 2.0],
    "loss": {"weights": {"C": 0.5}, "time_weights": [1, 0, 2],
             "data": {"species": ["A", "B"], "values": [[0.4, 0.5], [0.1, 0.3], [0.02, 0.2]]}},
    "stiffness": {"default": [1, 100]}
  })");
  const ProblemSetup setup = LoadProblemFile(path)->Make(10.0);
  EXPECT_EQ(setup.ode.theta(1), 30.0);
  GradientOptions options = Tight("cvodes_bdf");
  options.integrator_options.atol = 1e-14;
  const Vector adjoint = CvodesAdjoint(setup, options).Joined();
  const Vector fd = LossDifferences(setup, options, 1e-4);
  EXPECT_LE(test_util::MaxRelativeError(adjoint, fd), 1e-6)
      << "adjoint: " << adjoint.transpose() << "\nfd:      " << fd.transpose();
}

TEST_F(ProblemFileTest, RegisterUnderTheFileNameOnce) {
  ProblemRegistryType registry("problem");
  const std::string path = Example("linear_2x2.json");
  EXPECT_EQ(RegisterProblemFile(registry, path), "linear_2x2");
  ASSERT_TRUE(registry.Contains("linear_2x2"));
  const auto definition = registry.Create("linear_2x2", ProblemOptions());
  EXPECT_TRUE(definition->Capabilities().exact_gradient);
  try {
    RegisterProblemFile(registry, path);
    FAIL() << "no error for a taken name";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'linear_2x2'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("already registered"), std::string::npos) << e.what();
  }
}

struct MalformedCase {
  const char* what;
  std::function<void(nlohmann::json&)> mutate;
  const char* pointer;  // expected in the message after "<path>: "
  const char* message;  // expected in the message
  bool linear = false;
};

std::vector<MalformedCase> MalformedCases() {
  using J = nlohmann::json;
  return {
      {"format", [](J& j) { j["format"] = "tableau"; }, "/format", "expected \"snode-problem\""},
      {"version", [](J& j) { j["version"] = 2; }, "/version", "unsupported version 2"},
      {"kind", [](J& j) { j["kind"] = "petri"; }, "/kind", "unknown kind \"petri\""},
      {"name", [](J& j) { j["name"] = "Bad-Name"; }, "/name", "snake_case"},
      {"missing loss", [](J& j) { j.erase("loss"); }, "/loss", "required field is missing"},
      {"misspelt field", [](J& j) { j["reactions"][0]["reactans"] = J::object(); },
       "/reactions/0/reactans", "unknown field"},
      {"empty species", [](J& j) { j["species"] = J::array(); }, "/species", "must not be empty"},
      {"duplicate species", [](J& j) { j["species"][1]["name"] = "A"; }, "/species/1/name",
       "duplicate name 'A'"},
      {"duplicate reaction name",
       [](J& j) {
         j["reactions"][0]["name"] = "r";
         j["reactions"].push_back(j["reactions"][0]);
       },
       "/reactions/1/name", "duplicate reaction name 'r'"},
      {"unknown species",
       [](J& j) {
         j["reactions"][0]["products"] = {{"D", 1}};
       },
       "/reactions/0/products", "unknown species 'D' (known: A, B)"},
      {"negative stoichiometry", [](J& j) { j["reactions"][0]["reactants"]["A"] = -1; },
       "/reactions/0/reactants/A", "must not be negative"},
      {"fractional stoichiometry", [](J& j) { j["reactions"][0]["reactants"]["A"] = 1.5; },
       "/reactions/0/reactants/A", "must be an integer"},
      {"zero stoichiometry", [](J& j) { j["reactions"][0]["reactants"]["A"] = 0; },
       "/reactions/0/reactants/A", "must be an integer from 1 to 100"},
      {"no reactants or products",
       [](J& j) {
         j["reactions"][0] = {{"rate", 1}};
       },
       "/reactions/0", "needs reactants or products"},
      {"negative rate", [](J& j) { j["reactions"][0]["rate"] = -0.5; }, "/reactions/0/rate",
       "must be ≥ 0"},
      {"negative initial amount", [](J& j) { j["species"][0]["initial"] = -1; },
       "/species/0/initial", "must be ≥ 0"},
      {"string rate", [](J& j) { j["reactions"][0]["rate"] = "fast"; }, "/reactions/0/rate",
       "must be a number, not a string"},
      {"times not increasing",
       [](J& j) {
         j["times"] = {1.0, 0.5};
       },
       "/times/1", "must increase strictly (0.5 after 1)"},
      {"time before t0", [](J& j) { j["t0"] = 2; }, "/times/0", "lies before t0 = 2"},
      {"λ in a weight",
       [](J& j) {
         j["loss"]["weights"]["B"] = {{"lambda", 1}};
       },
       "/loss/weights/B", "{\"lambda\": c} coefficient is not allowed here"},
      {"λ in a time",
       [](J& j) {
         j["times"][1] = {{"lambda", 1}};
       },
       "/times/1", "is not allowed here"},
      {"λ without stiffness", [](J& j) { j.erase("stiffness"); }, "/stiffness",
       "required: the file writes a coefficient as {\"lambda\": c} (at /reactions/0/rate)"},
      {"stiffness without λ", [](J& j) { j["reactions"][0]["rate"] = 1; }, "/stiffness",
       "nothing to sweep"},
      {"defaults not increasing",
       [](J& j) {
         j["stiffness"]["default"] = {10, 1};
       },
       "/stiffness/default/1", "must increase strictly"},
      {"end time λ·c before t0",
       [](J& j) {
         j["times"] = {{"t_end", {{"lambda", 1}}}, {"count", 3}};
         j["reactions"][0]["rate"] = 1;
         j["stiffness"]["default"] = {0, 1};
       },
       "/stiffness/default/0", "the end time 0 is not after t0 = 0"},
      {"log spacing without t_first",
       [](J& j) {
         j["times"] = {{"t_end", 1}, {"count", 3}, {"spacing", "log"}};
       },
       "/times/t_first", "required with log spacing"},
      {"data rows",
       [](J& j) {
         j["loss"]["data"] = {{"species", {"A"}}, {"values", {{0.5}}}};
       },
       "/loss/data/values", "has 1 rows but the problem has 2 output times"},
      {"species over the cap",
       [](J& j) {
         for (int i = 0; i < 10000; ++i)
           j["species"].push_back({{"name", "s" + std::to_string(i)}});
       },
       "/species", "has 10002 entries, over the limit of 10000"},
      {"linear: ragged matrix", [](J& j) { j["matrix"][1] = {1}; }, "/matrix/1",
       "has 1 entries, expected 2", true},
      {"linear: data", [](J& j) { j["loss"]["data"] = J::object(); }, "/loss/data",
       "not allowed for a linear system", true},
      {"linear: λ in a weight",
       [](J& j) {
         j["loss"]["weights"][0] = {{"lambda", 2}};
       },
       "/loss/weights/0", "is not allowed here", true},
      {"linear: species field", [](J& j) { j["species"] = J::array(); }, "/species",
       "unknown field", true},
  };
}

TEST_F(ProblemFileTest, EachMalformedFileIsRefusedWithPlaceAndReason) {
  EXPECT_NO_THROW(LoadProblemFile(Write("base.json", BaseNetwork().dump())));
  EXPECT_NO_THROW(LoadProblemFile(Write("base_linear.json", BaseLinear().dump())));
  int index = 0;
  for (const MalformedCase& c : MalformedCases()) {
    SCOPED_TRACE(c.what);
    nlohmann::json json = c.linear ? BaseLinear() : BaseNetwork();
    c.mutate(json);
    const std::string path = Write("case" + std::to_string(index++) + ".json", json.dump());
    try {
      LoadProblemFile(path);
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(path + ": " + c.pointer + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(c.message), std::string::npos) << message;
    }
  }
}

// The message of the InputError LoadProblemFile(path) throws ("" when none).
std::string LoadError(const std::string& path) {
  try {
    LoadProblemFile(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST_F(ProblemFileTest, UnreadableFilesAreRefusedWithTheReason) {
  const std::string missing = (dir_ / "missing.json").string();
  EXPECT_EQ(LoadError(missing), missing + ": problem file not found");
  EXPECT_EQ(LoadError(dir_.string()), dir_.string() + ": is a directory, not a problem file");
  const std::string empty = Write("empty.json", " \n");
  EXPECT_EQ(LoadError(empty), empty + ": problem file is empty");
  const std::string broken = Write("broken.json", "{\n  \"format\": ,\n}");
  EXPECT_EQ(LoadError(broken).rfind(broken + ": line 2, column 13: not valid JSON: ", 0), 0u)
      << LoadError(broken);
  const std::string array = Write("array.json", "[1, 2]");
  EXPECT_EQ(LoadError(array), array + ": /: a problem file must be a JSON object, not an array");
  const std::string huge = Write("huge.json", "");
  std::filesystem::resize_file(huge, kMaxProblemFileBytes + 1);
  EXPECT_NE(LoadError(huge).find("over the limit of 16777216 bytes"), std::string::npos)
      << LoadError(huge);
  // A number too large for a double is not finite.
  std::string text = BaseNetwork().dump();
  text.replace(text.find("{\"lambda\":1}"), 12, "1e999");
  const std::string overflow = Write("overflow.json", text);
  EXPECT_EQ(LoadError(overflow), overflow + ": not valid JSON: number overflow parsing '1e999'");
  // A key twice in one object (JSON parsers keep the last one silently).
  text = BaseNetwork().dump();
  text.replace(text.find("\"reactants\":{\"A\":1}"), 18, "\"reactants\":{\"A\":1,\"A\":2}");
  const std::string twice = Write("twice.json", text);
  EXPECT_EQ(LoadError(twice),
            twice + ": /reactions/0/reactants/A: the key appears twice in this object");
  text = BaseNetwork().dump();
  text.replace(text.find("{\"name\":\"B\"}"), 12, "{\"name\":\"B\",\"name\":\"C\"}");
  const std::string nested = Write("nested.json", text);
  EXPECT_EQ(LoadError(nested), nested + ": /species/1/name: the key appears twice in this object");
}

}  // namespace
}  // namespace snode::problems
