// The stiffness study from Python (docs/python.md, "The stiffness study"): snode.study.run calls
// _study_run, which runs studies/stiffness_study.hpp with the GIL released and returns the records
// as the JSON text of stiffness_results.json's runs (parsed on the Python side).
#include <pybind11/stl.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/files.hpp"
#include "python/src/bindings.hpp"
#include "studies/stiffness_report.hpp"
#include "studies/stiffness_study.hpp"
#include "studies/study_report.hpp"

namespace snode::python {
namespace {

struct StudyRun {
  std::string records_json;  // [RecordJson(r), ...]
  std::string neural_json;   // [NeuralJson(n), ...]
  std::vector<std::string> summary;
  std::vector<std::string> notes;
  std::string log;   // what the app prints before its tables
  std::string html;  // report.html when written
};

StudyRun RunStudy(const std::string& preset, const std::vector<std::string>& problems,
                  const std::string& methods, const std::vector<double>& tolerances,
                  const std::vector<double>& lambdas, int threads, const std::string& out,
                  bool plots, double ok_tol, std::uint64_t seed) {
  RunInfo run = StartRunInfo(0, nullptr);
  run.command_line = "snode.study.run (Python)";
  StiffnessOptions options;
  options.preset = preset;
  options.problems = problems;
  if (!methods.empty()) options.methods = ParseMethodList(methods, "methods");
  options.tolerances = tolerances;
  options.lambdas = lambdas;
  options.threads = threads;
  options.plots = plots && !out.empty();
  options.ok_tol = ok_tol;
  options.seed = seed;
  options.quiet = true;
  options.out_dir = out;
  SelectedProblems(options);  // unknown names fail before any work
  if (!out.empty()) PrepareOutputDirectory(out, "out");
  const auto start = std::chrono::steady_clock::now();
  std::ostringstream log;
  StudyRun result;
  const StiffnessResults results = [&] {
    InterruptScope scope;  // the runs catch errors, so Ctrl-C takes effect when they are done
    StiffnessResults finished = [&] {
      py::gil_scoped_release release;
      return RunStiffnessStudy(options, log);
    }();
    if (scope.interrupted()) throw Interrupted();
    return finished;
  }();
  nlohmann::json records = nlohmann::json::array();
  for (const GradientRecord& record : results.records) records.push_back(RecordJson(record));
  nlohmann::json neural = nlohmann::json::array();
  for (const NeuralRecord& record : results.neural) neural.push_back(NeuralJson(record));
  result.records_json = records.dump();
  result.neural_json = neural.dump();
  result.summary = results.summary;
  result.notes = results.notes;
  if (!out.empty()) {
    py::gil_scoped_release release;
    WriteStiffnessOutputs(options, results, start, log);
    result.html = WriteStiffnessReport(options, results, std::move(run)).html;
  }
  result.log = log.str();
  return result;
}

}  // namespace

void BindStudy(py::module_& m) {
  py::class_<StudyRun>(m, "StudyRun")
      .def_readonly("records_json", &StudyRun::records_json)
      .def_readonly("neural_json", &StudyRun::neural_json)
      .def_readonly("summary", &StudyRun::summary)
      .def_readonly("notes", &StudyRun::notes)
      .def_readonly("log", &StudyRun::log)
      .def_readonly("html", &StudyRun::html);
  m.def("_study_run", &RunStudy, py::arg("preset"), py::arg("problems"), py::arg("methods"),
        py::arg("tolerances"), py::arg("lambdas"), py::arg("threads"), py::arg("out"),
        py::arg("plots"), py::arg("ok_tol"), py::arg("seed"),
        "The stiffness study (use snode.study.run).");
}

}  // namespace snode::python
