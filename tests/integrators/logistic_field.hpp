#pragma once
// The logistic test field now lives with the integrator contract (testing/logistic_field.hpp);
// snode's own integrator tests keep using it under test_util.
#include "testing/logistic_field.hpp"

namespace test_util {
using snode::contract::LogisticField;
using snode::contract::LogisticProblem;
using snode::contract::MaxLogisticError;
}  // namespace test_util
