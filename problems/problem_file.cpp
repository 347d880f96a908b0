#include "problems/problem_file.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <utility>

#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "problems/linear_system.hpp"
#include "problems/problem_file_json.hpp"
#include "problems/reaction_network.hpp"

namespace snode::problems {
namespace {

constexpr int kFormatVersion = 1;
constexpr std::size_t kMaxDefaultLambdas = 1000;

std::string Format(double x) {
  std::ostringstream out;
  out.precision(6);
  out << x;
  return out.str();
}

bool IsSnakeCase(const std::string& name) {
  if (name.empty() || name.size() > 64 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Output times: a list, or t_end with a count (linearly spaced after t0, or log-spaced from
// t_first).
struct TimeSpec {
  std::vector<double> list;
  bool generated = false;
  Coefficient t_end;
  int count = 0;
  bool log = false;
  double t_first = 0.0;

  std::size_t Size() const { return generated ? static_cast<std::size_t>(count) : list.size(); }
  std::vector<double> At(double lambda, double t0) const {
    if (!generated) return list;
    const double end = t_end.At(lambda);
    std::vector<double> times(static_cast<std::size_t>(count));
    for (int k = 0; k < count; ++k) {
      if (log) {
        const double fraction = count == 1 ? 1.0 : static_cast<double>(k) / (count - 1);
        times[static_cast<std::size_t>(k)] = t_first * std::pow(end / t_first, fraction);
      } else {
        times[static_cast<std::size_t>(k)] = t0 + (end - t0) * (k + 1) / count;
      }
    }
    times.back() = end;
    return times;
  }
};

// L = Σ_k w_kᵀ z(t_k) + scale · Σ_k Σ_{s observed} (z_s(t_k) − d_ks)².
struct LossSpec {
  std::vector<Vector> weights;  // per output time; empty: no linear term there
  std::vector<Index> observed;  // species with data
  std::vector<Vector> data;     // per output time, one value per observed species
  double scale = 0.0;
};

// The linear part plus the squared misfit to data on some components.
class FileLoss final : public Loss {
 public:
  explicit FileLoss(LossSpec spec) : spec_(std::move(spec)) {}
  double Term(std::size_t i, double, ConstVectorRef z, VectorRef dl_dz, VectorRef) const override {
    double value = 0.0;
    dl_dz.setZero();
    if (spec_.weights[i].size() > 0) {
      value = spec_.weights[i].dot(z);
      dl_dz = spec_.weights[i];
    }
    for (std::size_t j = 0; j < spec_.observed.size(); ++j) {
      const Index s = spec_.observed[j];
      const double misfit = z(s) - spec_.data[i](static_cast<Index>(j));
      value += spec_.scale * misfit * misfit;
      dl_dz(s) += 2.0 * spec_.scale * misfit;
    }
    return value;
  }

 private:
  LossSpec spec_;
};

// Everything read from a file; shared, immutable, by the definitions made from it.
struct FileSpec {
  std::string path;
  std::string name;
  bool linear = false;
  std::vector<std::string> state_names;
  std::map<std::string, Index> state_index;  // name → position in state_names
  std::vector<Coefficient> initial;
  double t0 = 0.0;
  TimeSpec times;
  LossSpec loss;
  ProblemCapabilities capabilities;
  // reaction_network
  std::vector<Reaction> reactions;
  std::vector<Coefficient> rates;
  // linear: A (column-major) and the offset b (empty: none)
  std::vector<Coefficient> matrix;
  std::vector<Coefficient> offset;
};

// Coefficients at λ; ConfigError naming `what` when one overflows.
Vector Values(const std::vector<Coefficient>& coefficients, double lambda, const FileSpec& spec,
              const char* what) {
  Vector values(static_cast<Index>(coefficients.size()));
  for (std::size_t i = 0; i < coefficients.size(); ++i) {
    values(static_cast<Index>(i)) = coefficients[i].At(lambda);
    Require(std::isfinite(values(static_cast<Index>(i))), [&] {
      return "problem '" + spec.name + "' (" + spec.path + "): " + what + " " + std::to_string(i) +
             " is not finite at λ = " + Format(lambda);
    });
  }
  return values;
}

// The output times at λ, checked (ConfigError: not increasing, before t0, non-finite).
std::vector<double> TimesAt(const FileSpec& spec, double lambda) {
  const std::vector<double> times = spec.times.At(lambda, spec.t0);
  auto fail = [&](const std::string& message) {
    throw ConfigError("problem '" + spec.name + "' (" + spec.path + "): at λ = " + Format(lambda) +
                      ": " + message);
  };
  const double end = times.back();
  if (!std::isfinite(end)) fail("the end time is not finite");
  if (spec.times.generated && spec.times.log && !(end > spec.times.t_first) &&
      spec.times.count > 1) {
    fail("the end time " + Format(end) + " is not after t_first = " + Format(spec.times.t_first));
  }
  if (spec.times.generated && !(end > spec.t0)) {
    fail("the end time " + Format(end) + " is not after t0 = " + Format(spec.t0));
  }
  for (std::size_t k = 1; k < times.size(); ++k) {
    if (!(times[k] > times[k - 1])) fail("the output times do not increase strictly");
  }
  return times;
}

class FileProblem final : public ProblemDefinition {
 public:
  explicit FileProblem(std::shared_ptr<const FileSpec> spec) : spec_(std::move(spec)) {}
  ProblemCapabilities Capabilities() const override { return spec_->capabilities; }
  ProblemSetup Make(double lambda) const override;

 private:
  std::shared_ptr<const FileSpec> spec_;
};

ProblemSetup FileProblem::Make(double lambda) const {
  const FileSpec& spec = *spec_;
  const ProblemCapabilities& caps = spec.capabilities;
  if (!caps.sweeps) lambda = caps.default_lambdas.front();
  Require(std::isfinite(lambda) && lambda >= caps.min_lambda, [&] {
    return "problem '" + spec.name + "' (" + spec.path + "): " + caps.parameter + " = " +
           Format(lambda) + " is outside its range [" + Format(caps.min_lambda) + ", ∞)";
  });
  ProblemSetup setup;
  setup.name = spec.name;
  setup.stiffness = caps.sweeps ? lambda : 0.0;
  setup.ode.t0 = spec.t0;
  setup.ode.output_times = TimesAt(spec, lambda);
  setup.ode.z0 = Values(spec.initial, lambda, spec, "initial value");
  const Index n = static_cast<Index>(spec.state_names.size());
  if (spec.linear) {
    LinearSystem system;
    const Vector entries = Values(spec.matrix, lambda, spec, "matrix entry");  // column-major
    system.a = Eigen::Map<const Matrix>(entries.data(), n, n);
    system.b = Values(spec.offset, lambda, spec, "offset entry");
    system.z0 = setup.ode.z0;
    system.t0 = spec.t0;
    system.times = setup.ode.output_times;
    system.weights = spec.loss.weights;
    setup.ode.field = std::make_shared<LinearField>(n, system.b);
    setup.ode.theta = LinearField::ParamsFromMatrix(system.a);
    setup.loss = std::make_shared<LinearFunctionalLoss>(spec.loss.weights);
    setup.exact_gradient = LinearSystemGradient(system);
  } else {
    setup.ode.field = std::make_shared<ReactionNetworkField>(spec.name, n, spec.reactions);
    setup.ode.theta = Values(spec.rates, lambda, spec, "rate of reaction");
    if (spec.loss.observed.empty()) {
      setup.loss = std::make_shared<LinearFunctionalLoss>(spec.loss.weights);
    } else {
      setup.loss = std::make_shared<FileLoss>(spec.loss);
    }
  }
  return setup;
}

// ---- reading --------------------------------------------------------------------------------

// The index of a state by name, or a failure naming the known ones.
Index StateIndex(const JsonReader& reader, const FileSpec& spec, const std::string& name,
                 const std::string& pointer, const char* what) {
  const auto it = spec.state_index.find(name);
  if (it != spec.state_index.end()) return it->second;
  std::string known;
  for (std::size_t i = 0; i < spec.state_names.size() && i < 20; ++i) {
    known += (i == 0 ? "" : ", ") + spec.state_names[i];
  }
  if (spec.state_names.size() > 20) known += ", …";
  reader.Fail(pointer, std::string("unknown ") + what + " '" + name + "' (known: " + known + ")");
}

// Names must be non-empty and distinct.
void AddStateName(const JsonReader& reader, FileSpec& spec, const std::string& name,
                  const std::string& pointer) {
  if (name.empty()) reader.Fail(pointer, "a name must not be empty");
  const Index index = static_cast<Index>(spec.state_names.size());
  if (!spec.state_index.emplace(name, index).second) {
    reader.Fail(pointer, "duplicate name '" + name + "'");
  }
  spec.state_names.push_back(name);
}

void ReadSpecies(const JsonReader& reader, const Json& root, FileSpec& spec) {
  const Json& species = reader.Array(reader.Required(root, "", "species"), "/species", kMaxSpecies);
  for (std::size_t i = 0; i < species.size(); ++i) {
    const std::string at = JsonPointer("/species", i);
    const Json& entry = reader.Object(species[i], at);
    reader.CheckKeys(entry, at, {"name", "initial"});
    AddStateName(reader, spec, reader.String(reader.Required(entry, at, "name"), at + "/name"),
                 at + "/name");
    Coefficient initial;
    if (const Json* value = JsonReader::Optional(entry, "initial")) {
      initial = reader.Coef(*value, at + "/initial", true);
      if (initial.value < 0.0) reader.Fail(at + "/initial", "an initial amount must be ≥ 0");
    }
    spec.initial.push_back(initial);
  }
}

// {"A": 1, "B": 2}: species → stoichiometric coefficient.
std::vector<std::pair<Index, int>> ReadStoichiometry(const JsonReader& reader, const Json& reaction,
                                                     const std::string& at, const char* key,
                                                     const FileSpec& spec) {
  std::vector<std::pair<Index, int>> terms;
  const Json* value = JsonReader::Optional(reaction, key);
  if (value == nullptr) return terms;
  const std::string pointer = JsonPointer(at, key);
  reader.Object(*value, pointer);
  for (auto it = value->begin(); it != value->end(); ++it) {
    const Index s = StateIndex(reader, spec, it.key(), pointer, "species");
    const std::string where = JsonPointer(pointer, it.key());
    if (!it.value().is_number()) reader.Number(it.value(), where);
    const double nu = it.value().get<double>();
    if (nu < 0.0) reader.Fail(where, "a stoichiometric coefficient must not be negative");
    if (nu != std::floor(nu)) reader.Fail(where, "a stoichiometric coefficient must be an integer");
    terms.emplace_back(s, reader.Integer(it.value(), where, 1, kMaxStoichiometry));
  }
  return terms;
}

void ReadReactions(const JsonReader& reader, const Json& root, FileSpec& spec) {
  const Json& reactions =
      reader.Array(reader.Required(root, "", "reactions"), "/reactions", kMaxReactions);
  std::map<std::string, std::size_t> names;
  for (std::size_t r = 0; r < reactions.size(); ++r) {
    const std::string at = JsonPointer("/reactions", r);
    const Json& entry = reader.Object(reactions[r], at);
    reader.CheckKeys(entry, at, {"name", "reactants", "products", "rate"});
    if (const Json* name = JsonReader::Optional(entry, "name")) {
      const std::string text = reader.String(*name, at + "/name");
      if (!names.emplace(text, r).second) {
        reader.Fail(at + "/name", "duplicate reaction name '" + text + "' (also reaction " +
                                      std::to_string(names[text]) + ")");
      }
    }
    Reaction reaction;
    reaction.reactants = ReadStoichiometry(reader, entry, at, "reactants", spec);
    reaction.products = ReadStoichiometry(reader, entry, at, "products", spec);
    if (reaction.reactants.empty() && reaction.products.empty()) {
      reader.Fail(at, "a reaction needs reactants or products");
    }
    const Coefficient rate = reader.Coef(reader.Required(entry, at, "rate"), at + "/rate", true);
    if (rate.value < 0.0) reader.Fail(at + "/rate", "a rate constant must be ≥ 0");
    spec.reactions.push_back(std::move(reaction));
    spec.rates.push_back(rate);
  }
}

std::vector<Coefficient> ReadCoefficients(const JsonReader& reader, const Json& value,
                                          const std::string& pointer, std::size_t size,
                                          bool allow_lambda = true) {
  reader.Array(value, pointer, size);
  if (value.size() != size) {
    reader.Fail(pointer, "has " + std::to_string(value.size()) + " entries, expected " +
                             std::to_string(size));
  }
  std::vector<Coefficient> coefficients;
  for (std::size_t i = 0; i < size; ++i) {
    coefficients.push_back(reader.Coef(value[i], JsonPointer(pointer, i), allow_lambda));
  }
  return coefficients;
}

void ReadLinear(const JsonReader& reader, const Json& root, FileSpec& spec) {
  const Json& rows =
      reader.Array(reader.Required(root, "", "matrix"), "/matrix", kMaxLinearDimension);
  const std::size_t n = rows.size();
  if (const Json* names = JsonReader::Optional(root, "states")) {
    reader.Array(*names, "/states", kMaxLinearDimension);
    if (names->size() != n) {
      reader.Fail("/states", "has " + std::to_string(names->size()) + " names but /matrix has " +
                                 std::to_string(n) + " rows");
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::string at = JsonPointer("/states", i);
      AddStateName(reader, spec, reader.String((*names)[i], at), at);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      AddStateName(reader, spec, "x" + std::to_string(i + 1), "/states");
    }
  }
  spec.matrix.resize(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = ReadCoefficients(reader, rows[i], JsonPointer("/matrix", i), n);
    for (std::size_t j = 0; j < n; ++j) spec.matrix[j * n + i] = row[j];  // column-major
  }
  if (const Json* offset = JsonReader::Optional(root, "offset")) {
    spec.offset = ReadCoefficients(reader, *offset, "/offset", n);
  }
  spec.initial = ReadCoefficients(reader, reader.Required(root, "", "initial"), "/initial", n);
}

}  // namespace

namespace {

void ReadTimes(const JsonReader& reader, const Json& root, FileSpec& spec) {
  const Json& times = reader.Required(root, "", "times");
  TimeSpec& out = spec.times;
  if (times.is_array()) {
    reader.Array(times, "/times", kMaxOutputTimes);
    for (std::size_t k = 0; k < times.size(); ++k) {
      const std::string at = JsonPointer("/times", k);
      out.list.push_back(reader.Number(times[k], at));
      if (k == 0 && out.list[0] < spec.t0) {
        reader.Fail(at, "the first output time " + Format(out.list[0]) +
                            " lies before t0 = " + Format(spec.t0));
      }
      if (k > 0 && !(out.list[k] > out.list[k - 1])) {
        reader.Fail(at, "output times must increase strictly (" + Format(out.list[k]) + " after " +
                            Format(out.list[k - 1]) + ")");
      }
    }
    return;
  }
  reader.Object(times, "/times");
  reader.CheckKeys(times, "/times", {"t_end", "count", "spacing", "t_first"});
  out.generated = true;
  out.t_end = reader.Coef(reader.Required(times, "/times", "t_end"), "/times/t_end", true);
  out.count =
      reader.Integer(reader.Required(times, "/times", "count"), "/times/count", 1, kMaxOutputTimes);
  std::string spacing = "linear";
  if (const Json* value = JsonReader::Optional(times, "spacing")) {
    spacing = reader.String(*value, "/times/spacing");
  }
  if (spacing != "linear" && spacing != "log") {
    reader.Fail("/times/spacing", "must be \"linear\" or \"log\", not \"" + spacing + "\"");
  }
  out.log = spacing == "log";
  const Json* first = JsonReader::Optional(times, "t_first");
  if (out.log != (first != nullptr)) {
    reader.Fail("/times/t_first",
                out.log ? "required with log spacing" : "only allowed with \"spacing\": \"log\"");
  }
  if (out.log) {
    out.t_first = reader.Number(*first, "/times/t_first");
    if (!(out.t_first > 0.0 && out.t_first >= spec.t0)) {
      reader.Fail("/times/t_first", "must be > 0 and ≥ t0 for log spacing");
    }
  }
}

// Weights: [w_1, …, w_n] or {"name": w, …} (absent names weigh 0).
Vector ReadWeights(const JsonReader& reader, const Json& value, const FileSpec& spec) {
  const Index n = static_cast<Index>(spec.state_names.size());
  Vector weights = Vector::Zero(n);
  if (value.is_array()) {
    const auto coefficients =
        ReadCoefficients(reader, value, "/loss/weights", static_cast<std::size_t>(n), false);
    for (Index i = 0; i < n; ++i) weights(i) = coefficients[static_cast<std::size_t>(i)].value;
    return weights;
  }
  reader.Object(value, "/loss/weights");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const Index s =
        StateIndex(reader, spec, it.key(), "/loss/weights", spec.linear ? "state" : "species");
    weights(s) = reader.Number(it.value(), JsonPointer("/loss/weights", it.key()));
  }
  return weights;
}

void ReadData(const JsonReader& reader, const Json& value, FileSpec& spec) {
  if (spec.linear) {
    reader.Fail("/loss/data",
                "not allowed for a linear system (its exact gradient needs a "
                "linear loss: use weights)");
  }
  reader.Object(value, "/loss/data");
  reader.CheckKeys(value, "/loss/data", {"species", "values", "scale"});
  const Json& names = reader.Array(reader.Required(value, "/loss/data", "species"),
                                   "/loss/data/species", kMaxSpecies);
  for (std::size_t j = 0; j < names.size(); ++j) {
    const std::string at = JsonPointer("/loss/data/species", j);
    const Index s = StateIndex(reader, spec, reader.String(names[j], at), at, "species");
    for (const Index seen : spec.loss.observed) {
      if (seen == s) reader.Fail(at, "duplicate species '" + spec.state_names[s] + "'");
    }
    spec.loss.observed.push_back(s);
  }
  const std::size_t num_times = spec.times.Size();
  const Json& rows = reader.Array(reader.Required(value, "/loss/data", "values"),
                                  "/loss/data/values", kMaxOutputTimes);
  if (rows.size() != num_times) {
    reader.Fail("/loss/data/values", "has " + std::to_string(rows.size()) +
                                         " rows but the problem has " + std::to_string(num_times) +
                                         " output times");
  }
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::string at = JsonPointer("/loss/data/values", k);
    Vector row(static_cast<Index>(names.size()));
    reader.Array(rows[k], at, names.size());
    if (rows[k].size() != names.size()) {
      reader.Fail(at, "has " + std::to_string(rows[k].size()) + " values, expected " +
                          std::to_string(names.size()) +
                          " (one per species in /loss/data/species)");
    }
    for (std::size_t j = 0; j < names.size(); ++j) {
      row(static_cast<Index>(j)) = reader.Number(rows[k][j], JsonPointer(at, j));
    }
    spec.loss.data.push_back(row);
  }
  spec.loss.scale = 1.0 / static_cast<double>(num_times * names.size());  // the mean
  if (const Json* scale = JsonReader::Optional(value, "scale")) {
    spec.loss.scale = reader.Number(*scale, "/loss/data/scale");
    if (!(spec.loss.scale > 0.0)) reader.Fail("/loss/data/scale", "must be > 0");
  }
}

void ReadLoss(const JsonReader& reader, const Json& root, FileSpec& spec) {
  const Json& loss = reader.Object(reader.Required(root, "", "loss"), "/loss");
  reader.CheckKeys(loss, "/loss", {"weights", "at", "time_weights", "data"});
  const std::size_t num_times = spec.times.Size();
  spec.loss.weights.assign(num_times, Vector());
  const Json* weights = JsonReader::Optional(loss, "weights");
  const Json* at = JsonReader::Optional(loss, "at");
  const Json* time_weights = JsonReader::Optional(loss, "time_weights");
  if (weights == nullptr && (at != nullptr || time_weights != nullptr)) {
    reader.Fail("/loss/weights", "required with /loss/at or /loss/time_weights");
  }
  if (at != nullptr && time_weights != nullptr) {
    reader.Fail("/loss/at", "give either /loss/at or /loss/time_weights, not both");
  }
  if (weights != nullptr) {
    const Vector w = ReadWeights(reader, *weights, spec);
    std::string when = "final";
    if (at != nullptr) when = reader.String(*at, "/loss/at");
    if (when != "final" && when != "every") {
      reader.Fail("/loss/at", "must be \"final\" or \"every\", not \"" + when + "\"");
    }
    for (std::size_t k = 0; k < num_times; ++k) {
      if (when == "every" || k + 1 == num_times) spec.loss.weights[k] = w;
    }
    if (time_weights != nullptr) {
      const auto factors =
          ReadCoefficients(reader, *time_weights, "/loss/time_weights", num_times, false);
      for (std::size_t k = 0; k < num_times; ++k) spec.loss.weights[k] = factors[k].value * w;
    }
  }
  if (const Json* data = JsonReader::Optional(loss, "data")) ReadData(reader, *data, spec);
  if (weights == nullptr && spec.loss.observed.empty()) {
    reader.Fail("/loss", "needs weights or data");
  }
}
}  // namespace

namespace {

// What Make(λ) checks, without building anything (ConfigError).
void CheckAt(const FileSpec& spec, double lambda) {
  TimesAt(spec, lambda);
  Values(spec.initial, lambda, spec, "initial value");
  Values(spec.rates, lambda, spec, "rate of reaction");
  Values(spec.matrix, lambda, spec, "matrix entry");
  Values(spec.offset, lambda, spec, "offset entry");
}

void ReadStiffness(const JsonReader& reader, const Json& root, FileSpec& spec) {
  ProblemCapabilities& caps = spec.capabilities;
  const Json* stiffness = JsonReader::Optional(root, "stiffness");
  caps.sweeps = reader.uses_lambda();
  if (stiffness == nullptr) {
    if (caps.sweeps) {
      reader.Fail("/stiffness", "required: the file writes a coefficient as {\"lambda\": c} (at " +
                                    reader.first_lambda() + ")");
    }
    caps.default_lambdas = {1.0};
    return;
  }
  if (!caps.sweeps) {
    reader.Fail("/stiffness",
                "no coefficient is written as {\"lambda\": c}, so there is nothing "
                "to sweep: remove /stiffness or use λ in a coefficient");
  }
  reader.Object(*stiffness, "/stiffness");
  reader.CheckKeys(*stiffness, "/stiffness", {"parameter", "meaning", "default", "min"});
  if (const Json* value = JsonReader::Optional(*stiffness, "parameter")) {
    caps.parameter = reader.String(*value, "/stiffness/parameter");
    if (caps.parameter.empty()) reader.Fail("/stiffness/parameter", "must not be empty");
  }
  if (const Json* value = JsonReader::Optional(*stiffness, "meaning")) {
    caps.parameter_meaning = reader.String(*value, "/stiffness/meaning");
  }
  if (const Json* value = JsonReader::Optional(*stiffness, "min")) {
    caps.min_lambda = reader.Number(*value, "/stiffness/min");
    if (caps.min_lambda < 0.0) reader.Fail("/stiffness/min", "must be ≥ 0");
  }
  const Json& defaults = reader.Array(reader.Required(*stiffness, "/stiffness", "default"),
                                      "/stiffness/default", kMaxDefaultLambdas);
  for (std::size_t i = 0; i < defaults.size(); ++i) {
    const std::string at = JsonPointer("/stiffness/default", i);
    const double lambda = reader.Number(defaults[i], at);
    if (lambda < caps.min_lambda) {
      reader.Fail(
          at, "λ = " + Format(lambda) + " is below /stiffness/min = " + Format(caps.min_lambda));
    }
    if (!caps.default_lambdas.empty() && !(lambda > caps.default_lambdas.back())) {
      reader.Fail(at, "the default values must increase strictly");
    }
    caps.default_lambdas.push_back(lambda);
  }
}

void ReadOptions(const JsonReader& reader, const Json& root, FileSpec& spec) {
  ProblemCapabilities& caps = spec.capabilities;
  caps.description = (spec.linear ? "linear system from " : "reaction network from ") + spec.path;
  if (const Json* value = JsonReader::Optional(root, "description")) {
    caps.description = reader.String(*value, "/description");
  }
  if (const Json* value = JsonReader::Optional(root, "t0")) spec.t0 = reader.Number(*value, "/t0");
  // Concentrations span many decades (Robertson's 1 … 1e-5): a small absolute scale.
  caps.atol_scale = spec.linear ? 1e-2 : 1e-6;
  if (const Json* value = JsonReader::Optional(root, "atol_scale")) {
    caps.atol_scale = reader.Number(*value, "/atol_scale");
    if (!(caps.atol_scale > 0.0)) reader.Fail("/atol_scale", "must be > 0");
  }
  if (const Json* value = JsonReader::Optional(root, "fixed_steps")) {
    caps.fixed_steps = reader.Integer(*value, "/fixed_steps", 1, 100000000);
  }
  if (const Json* value = JsonReader::Optional(root, "judge_absolute")) {
    if (!value->is_boolean()) reader.Fail("/judge_absolute", "must be true or false");
    caps.judge_absolute = value->get<bool>();
  }
  caps.exact_gradient = spec.linear;
  caps.positive_states = !spec.linear;
}

// format, version, kind, name; the allowed fields for the kind.
void ReadHeader(const JsonReader& reader, const Json& root, FileSpec& spec) {
  const std::string format = reader.String(reader.Required(root, "", "format"), "/format");
  if (format != "snode-problem") {
    reader.Fail("/format", "expected \"snode-problem\", not \"" + format + "\"");
  }
  const int version = reader.Integer(reader.Required(root, "", "version"), "/version", 0, 1 << 30);
  if (version != kFormatVersion) {
    reader.Fail("/version", "unsupported version " + std::to_string(version) +
                                " (this build reads version " + std::to_string(kFormatVersion) +
                                ")");
  }
  const std::string kind = reader.String(reader.Required(root, "", "kind"), "/kind");
  if (kind != "reaction_network" && kind != "linear") {
    reader.Fail("/kind", "unknown kind \"" + kind + "\" (known: reaction_network, linear)");
  }
  spec.linear = kind == "linear";
  if (spec.linear) {
    reader.CheckKeys(root, "",
                     {"format", "version", "kind", "name", "description", "states", "matrix",
                      "offset", "initial", "t0", "times", "loss", "stiffness", "atol_scale",
                      "fixed_steps", "judge_absolute"});
  } else {
    reader.CheckKeys(
        root, "",
        {"format", "version", "kind", "name", "description", "species", "reactions", "t0", "times",
         "loss", "stiffness", "atol_scale", "fixed_steps", "judge_absolute"});
  }
  spec.name = reader.String(reader.Required(root, "", "name"), "/name");
  if (!IsSnakeCase(spec.name)) {
    reader.Fail("/name", "\"" + spec.name +
                             "\" must be lowercase snake_case (a–z, 0–9, _; "
                             "starting with a letter; at most 64 characters)");
  }
}

// The whole file read and checked.
std::shared_ptr<const FileSpec> ReadSpec(const std::string& path) {
  const JsonReader reader(path);
  const Json root = reader.ReadFile(kMaxProblemFileBytes);
  auto spec = std::make_shared<FileSpec>();
  spec->path = path;
  ReadHeader(reader, root, *spec);
  ReadOptions(reader, root, *spec);
  if (spec->linear) {
    ReadLinear(reader, root, *spec);
  } else {
    ReadSpecies(reader, root, *spec);
    ReadReactions(reader, root, *spec);
  }
  ReadTimes(reader, root, *spec);
  ReadLoss(reader, root, *spec);
  ReadStiffness(reader, root, *spec);
  // Every default λ must make a valid problem (an end time λ·c before t0, an overflow).
  const auto& lambdas = spec->capabilities.default_lambdas;
  for (std::size_t i = 0; i < lambdas.size(); ++i) {
    try {
      CheckAt(*spec, lambdas[i]);
    } catch (const ConfigError& e) {
      reader.Fail(spec->capabilities.sweeps ? JsonPointer("/stiffness/default", i) : "/times",
                  e.what());
    }
  }
  return spec;
}

}  // namespace

std::unique_ptr<ProblemDefinition> LoadProblemFile(const std::string& path) {
  return std::make_unique<FileProblem>(ReadSpec(path));
}

std::string RegisterProblemFile(ProblemRegistryType& registry, const std::string& path) {
  std::shared_ptr<const FileSpec> spec = ReadSpec(path);
  if (registry.Contains(spec->name)) {
    throw ConfigError(path + ": problem name '" + spec->name +
                      "' (from /name) is already registered; rename the problem in the file");
  }
  registry.Add(spec->name, [spec](const ProblemOptions&) -> std::unique_ptr<ProblemDefinition> {
    return std::make_unique<FileProblem>(spec);
  });
  return spec->name;
}

}  // namespace snode::problems
