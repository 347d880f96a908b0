#pragma once
// Scalar and vector aliases used across snode.

#include <sundials/sundials_types.h>

#include <Eigen/Core>
#include <type_traits>

namespace snode {

static_assert(std::is_same_v<sunrealtype, double>,
              "snode needs SUNDIALS built in double precision");

using Index = Eigen::Index;
using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;
using VectorRef = Eigen::Ref<Eigen::VectorXd>;
using ConstVectorRef = Eigen::Ref<const Eigen::VectorXd>;
using MatrixRef = Eigen::Ref<Eigen::MatrixXd>;

}  // namespace snode
