#pragma once
// Gauss–Legendre rules on [0, 1] with m = 1, 2, 3 nodes: row m − 1 of the tables below holds
// the nodes and the weights (unused entries 0). The m-point rule is exact for polynomials of
// degree 2m − 1, with local error O(h^(2m+1)) on a step of length h.

namespace snode {

inline constexpr int kGaussLegendreMaxNodes = 3;

inline constexpr double kGaussLegendreNodes[kGaussLegendreMaxNodes][kGaussLegendreMaxNodes] = {
    {0.5, 0.0, 0.0},
    {0.5 - 0.2886751345948128823, 0.5 + 0.2886751345948128823, 0.0},
    {0.5 - 0.3872983346207416885, 0.5, 0.5 + 0.3872983346207416885}};

inline constexpr double kGaussLegendreWeights[kGaussLegendreMaxNodes][kGaussLegendreMaxNodes] = {
    {1.0, 0.0, 0.0}, {0.5, 0.5, 0.0}, {5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0}};

}  // namespace snode
