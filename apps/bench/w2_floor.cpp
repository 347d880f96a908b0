// w2_floor: W2's forward solve on raw SUNDIALS (the floor of docs/performance-overhead.md).
//
//   w2_floor [--mode stop_times|interpolate] [--tanh kernel|std] [--fused-ops on|off]
//            [--weights FILE] [--repeat N]
//
// Prints z(10), the f evaluations (NFE) and accepted steps of one solve, and with --repeat N the
// median wall time per solve over N solves (one solver object reused, as in training).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "apps/bench/w2_floor_lib.hpp"

#ifndef SNODE_W2_WEIGHTS
#define SNODE_W2_WEIGHTS "/work/shared/data/w2/w2_init_weights.json"
#endif

namespace {

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--mode stop_times|interpolate] [--tanh kernel|std] [--fused-ops on|off] "
               "[--weights FILE] [--repeat N]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  snode::W2FloorOptions options;
  std::string weights_path = SNODE_W2_WEIGHTS;
  long repeat = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const std::string value = argv[++i];
    if (arg == "--mode" && value == "stop_times") {
      options.mode = snode::W2OutputMode::kStopTimes;
    } else if (arg == "--mode" && value == "interpolate") {
      options.mode = snode::W2OutputMode::kInterpolate;
    } else if (arg == "--tanh" && value == "kernel") {
      options.tanh = snode::W2Tanh::kKernel;
    } else if (arg == "--tanh" && value == "std") {
      options.tanh = snode::W2Tanh::kStd;
    } else if (arg == "--fused-ops" && (value == "on" || value == "off")) {
      options.fused_vector_ops = value == "on";
    } else if (arg == "--weights") {
      weights_path = value;
    } else if (arg == "--repeat") {
      char* end = nullptr;
      repeat = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || repeat < 0) return Usage(argv[0]);
    } else {
      return Usage(argv[0]);
    }
  }
  try {
    snode::W2Floor floor_solver(snode::LoadW2FloorWeights(weights_path), options);
    floor_solver.Solve(1.0, 1.0);
    const std::vector<double>& z = floor_solver.states();
    std::printf("mode %s, tanh %s, fused ops %s\n",
                options.mode == snode::W2OutputMode::kStopTimes ? "stop_times" : "interpolate",
                options.tanh == snode::W2Tanh::kKernel ? "kernel" : "std",
                options.fused_vector_ops ? "on" : "off");
    std::printf("z(10) = (%.17g, %.17g)\n", z[z.size() - 2], z[z.size() - 1]);
    std::printf("nfe %ld steps %ld\n", floor_solver.rhs_evals(), floor_solver.steps());
    if (repeat > 0) {
      std::vector<double> seconds;
      for (long r = 0; r < repeat; ++r) {
        const auto start = std::chrono::steady_clock::now();
        floor_solver.Solve(1.0, 1.0);
        seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      std::nth_element(seconds.begin(), seconds.begin() + repeat / 2, seconds.end());
      std::printf("median wall time per solve over %ld solves: %.2f us\n", repeat,
                  1e6 * seconds[static_cast<size_t>(repeat / 2)]);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "w2_floor: %s\n", error.what());
    return 1;
  }
  return 0;
}
