#pragma once
// A Runge–Kutta method as data: a Butcher tableau in a JSON file, validated on load.
//
//   {
//     "name": "bogacki_shampine",        // registry name (lowercase snake_case)
//     "description": "...",             // optional, ignored
//     "order": 3,                         // order of the solution (weights b)
//     "embedded_order": 2,                // with b_embedded only: order of the embedding
//     "c": [0, "1/2", "3/4", 1],
//     "A": [[], ["1/2"], [0, "3/4"], ["2/9", "1/3", "4/9"]],
//     "b": ["2/9", "1/3", "4/9", 0],
//     "b_embedded": ["7/24", "1/4", "1/3", "1/8"]   // optional: adaptive steps
//   }
//
// Each coefficient is a JSON number or a string holding a number or an exact fraction "p/q"
// ("-2/9", "1.5/4"); give decimals to full double precision (17 significant digits). Row i of A
// (1-based) holds either all s entries, the i entries up to and including the diagonal, or the
// i − 1 entries strictly below it (missing entries are 0). Any other field is rejected (a misspelt
// "b_embeded" would otherwise silently turn an adaptive method into a fixed-step one).
//
// Validation (ValidateTableau, also run on tableaus registered from code):
//  - shapes: s ≥ 1 stages, A s × s, b, c (and b_embedded) of length s, every entry finite;
//  - c_i = Σ_j a_ij (to 1e-10);
//  - A strictly lower triangular (explicit, run by ERKStep) or lower triangular with a nonzero
//    diagonal entry (diagonally implicit, run by ARKStep); anything else is refused;
//  - the order conditions (integrators/order_conditions.hpp) of every rooted tree up to "order"
//    for b and up to "embedded_order" for b_embedded, and b_embedded ≠ b.
// A failure is a ConfigError naming the source (the file) and the field or the first failed
// condition, e.g. "tableau file 'x.json': weights b fail order condition 4 of order 3,
// Σ b_i a_ij c_j = 1/6: got 0.1944 (residual 2.8e-02); the tableau claims order 3".

#include <nlohmann/json.hpp>
#include <string>

#include "integrators/butcher_tableau.hpp"

namespace snode {

// Largest tableau file read (a tableau of 100 stages is ~100 kB).
constexpr long kMaxTableauFileBytes = 1 << 20;

// Checks a tableau as the file comment says. source names it in messages ("tableau file
// 'bs32.json'", "tableau 'bs32'"). Throws ConfigError.
void ValidateTableau(const ButcherTableau& tableau, const std::string& source);

// Parses and validates the JSON object of a tableau; stores its "name" in *name when name is not
// null. Throws ConfigError "<source>: field \"A\" row 2 ..." for missing, unknown or malformed
// fields and for a tableau that fails validation.
ButcherTableau ParseTableau(const nlohmann::json& json, const std::string& source,
                            std::string* name = nullptr);

// Reads, parses and validates a tableau file. Throws InputError naming the file when it cannot
// be read, is larger than kMaxTableauFileBytes or is not JSON; ConfigError (file and field or
// condition) for bad content.
ButcherTableau ReadTableauFile(const std::string& path, std::string* name = nullptr);

// A coefficient: a finite JSON number, or a string holding a number or a fraction "p/q". Throws
// ConfigError "<where>: ..." otherwise.
double ParseCoefficient(const nlohmann::json& value, const std::string& where);

}  // namespace snode
