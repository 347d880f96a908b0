#include "integrators/tableau_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/errors.hpp"
#include "core/input_file.hpp"
#include "integrators/order_conditions.hpp"

namespace snode {

namespace {

using Json = nlohmann::json;

constexpr const char* kKnownFields =
    "name, description, order, embedded_order, c, A, b, b_embedded";

std::string Number(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", x);
  return text;
}

// A whole string as a double (surrounding spaces allowed), or nothing.
std::optional<double> WholeNumber(const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(begin, &end);
  if (end == begin || errno == ERANGE) return std::nullopt;
  while (*end == ' ') ++end;
  if (*end != '\0') return std::nullopt;
  return x;
}

int ParseOrder(const Json& json, const char* field, const std::string& source) {
  const Json& value = json.at(field);
  Require(value.is_number_integer() && value.get<long>() >= 1 &&
              value.get<long>() <= kMaxOrderConditionOrder,
          [&] {
            return source + ": field \"" + field + "\" must be an integer in 1.." +
                   std::to_string(kMaxOrderConditionOrder) + ", not " + value.dump();
          });
  return value.get<int>();
}

const Json& ArrayField(const Json& json, const char* field, const std::string& source) {
  Require(json.contains(field), [&] { return source + ": field \"" + field + "\" is missing"; });
  const Json& value = json.at(field);
  Require(value.is_array() && !value.empty(), [&] {
    return source + ": field \"" + field + "\" must be a non-empty array, not " +
           value.dump().substr(0, 60);
  });
  return value;
}

Vector ParseVector(const Json& json, const char* field, const std::string& source) {
  const Json& array = ArrayField(json, field, source);
  Vector v(static_cast<Index>(array.size()));
  for (std::size_t i = 0; i < array.size(); ++i) {
    v[static_cast<Index>(i)] = ParseCoefficient(
        array[i], source + ": field \"" + field + "\" entry " + std::to_string(i + 1));
  }
  return v;
}

// Row i (0-based) of A: s entries, i + 1 (through the diagonal) or i (strictly below).
Matrix ParseMatrix(const Json& json, Index s, const std::string& source) {
  const Json& rows = ArrayField(json, "A", source);
  Require(static_cast<Index>(rows.size()) == s, [&] {
    return source + ": field \"A\" has " + std::to_string(rows.size()) + " rows but \"b\" has " +
           std::to_string(s) + " stages";
  });
  Matrix a = Matrix::Zero(s, s);
  for (Index i = 0; i < s; ++i) {
    const Json& row = rows[static_cast<std::size_t>(i)];
    const std::string where = source + ": field \"A\" row " + std::to_string(i + 1);
    const Index length = row.is_array() ? static_cast<Index>(row.size()) : -1;
    Require(length == s || length == i + 1 || length == i, [&] {
      return where + " must be an array of " + std::to_string(s) + " entries (or the " +
             std::to_string(i + 1) + " up to the diagonal, or the " + std::to_string(i) +
             " below it), not " + row.dump().substr(0, 60);
    });
    for (Index j = 0; j < length; ++j) {
      a(i, j) = ParseCoefficient(row[static_cast<std::size_t>(j)],
                                 where + " column " + std::to_string(j + 1));
    }
  }
  return a;
}

void CheckFields(const Json& json, const std::string& source) {
  Require(json.is_object(),
          source + ": must be a JSON object with the fields " + std::string(kKnownFields));
  for (const auto& item : json.items()) {
    const std::string& key = item.key();
    const bool known = key == "name" || key == "description" || key == "order" ||
                       key == "embedded_order" || key == "c" || key == "A" || key == "b" ||
                       key == "b_embedded";
    Require(known, [&] {
      return source + ": unknown field \"" + key + "\"; known: " + std::string(kKnownFields);
    });
  }
  for (const char* field : {"name", "order", "c", "A", "b"}) {
    Require(json.contains(field), [&] { return source + ": field \"" + field + "\" is missing"; });
  }
  Require(json.contains("embedded_order") == json.contains("b_embedded"), [&] {
    return source +
           ": fields \"b_embedded\" and \"embedded_order\" go together (give both for "
           "adaptive steps, neither for a fixed-step method)";
  });
}

void CheckShapes(const ButcherTableau& t, const std::string& source) {
  const Index s = t.stages;
  Require(s >= 1, source + ": a tableau needs at least one stage");
  Require(t.a.rows() == s && t.a.cols() == s && t.b.size() == s && t.c.size() == s &&
              (t.b_embedded.size() == 0 || t.b_embedded.size() == s),
          [&] {
            return source + ": inconsistent sizes: " + std::to_string(s) + " stages, A " +
                   std::to_string(t.a.rows()) + "x" + std::to_string(t.a.cols()) + ", b " +
                   std::to_string(t.b.size()) + ", c " + std::to_string(t.c.size()) +
                   ", b_embedded " + std::to_string(t.b_embedded.size());
          });
  Require(AllFinite(t.a) && AllFinite(t.b) && AllFinite(t.c) && AllFinite(t.b_embedded),
          source + ": every coefficient must be finite");
}

void CheckStructure(const ButcherTableau& t, const std::string& source) {
  const Index s = t.stages;
  for (Index i = 0; i < s; ++i) {
    for (Index j = i + 1; j < s; ++j) {
      Require(t.a(i, j) == 0.0, [&] {
        return source + ": A row " + std::to_string(i + 1) + " column " + std::to_string(j + 1) +
               " = " + Number(t.a(i, j)) +
               " is above the diagonal; only explicit (strictly lower triangular A) and "
               "diagonally implicit (lower triangular A) methods are supported";
      });
    }
    const double row_sum = t.a.row(i).sum();
    Require(
        std::abs(t.c[i] - row_sum) <= kOrderConditionTolerance * std::max(1.0, std::abs(row_sum)),
        [&] {
          return source + ": c entry " + std::to_string(i + 1) + " = " + Number(t.c[i]) +
                 " but row " + std::to_string(i + 1) + " of A sums to " + Number(row_sum) +
                 " (c_i = Σ_j a_ij is required)";
        });
  }
}

void CheckOrder(const ButcherTableau& t, const Vector& weights, int order, const char* what,
                const char* claim, const std::string& source) {
  Require(order >= 1 && order <= kMaxOrderConditionOrder, [&] {
    return source + ": " + claim + " " + std::to_string(order) + " is out of range 1.." +
           std::to_string(kMaxOrderConditionOrder);
  });
  const std::optional<OrderConditionFailure> failure =
      FirstFailedOrderCondition(t.a, weights, order);
  Require(!failure, [&] {
    return source + ": " + what + " fail " + failure->Describe() + "; the tableau claims " + claim +
           " " + std::to_string(order);
  });
}

}  // namespace

double ParseCoefficient(const Json& value, const std::string& where) {
  std::optional<double> x;
  if (value.is_number()) {
    x = value.get<double>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    const std::size_t slash = text.find('/');
    if (slash == std::string::npos) {
      x = WholeNumber(text);
    } else {
      const std::optional<double> numerator = WholeNumber(text.substr(0, slash));
      const std::optional<double> denominator = WholeNumber(text.substr(slash + 1));
      if (numerator && denominator && *denominator != 0.0) x = *numerator / *denominator;
    }
  }
  Require(x.has_value() && std::isfinite(*x), [&] {
    return where + ": " + value.dump().substr(0, 60) +
           " is not a number or a fraction \"p/q\" such as \"2/9\"";
  });
  return *x;
}

void ValidateTableau(const ButcherTableau& tableau, const std::string& source) {
  CheckShapes(tableau, source);
  CheckStructure(tableau, source);
  CheckOrder(tableau, tableau.b, tableau.order, "weights b", "order", source);
  if (!tableau.HasEmbedding()) {
    Require(tableau.embedded_order == 0, [&] {
      return source + ": embedded_order " + std::to_string(tableau.embedded_order) +
             " without b_embedded";
    });
    return;
  }
  Require(tableau.b_embedded != tableau.b,
          source + ": b_embedded equals b, so the error estimate would always be zero");
  CheckOrder(tableau, tableau.b_embedded, tableau.embedded_order, "embedded weights b_embedded",
             "embedded_order", source);
}

ButcherTableau ParseTableau(const Json& json, const std::string& source, std::string* name) {
  CheckFields(json, source);
  const Json& name_value = json.at("name");
  Require(name_value.is_string() && !name_value.get<std::string>().empty(), [&] {
    return source + ": field \"name\" must be a non-empty string, not " + name_value.dump();
  });
  ButcherTableau tableau;
  tableau.order = ParseOrder(json, "order", source);
  tableau.b = ParseVector(json, "b", source);
  tableau.stages = static_cast<int>(tableau.b.size());
  tableau.c = ParseVector(json, "c", source);
  Require(tableau.c.size() == tableau.b.size(), [&] {
    return source + ": field \"c\" has " + std::to_string(tableau.c.size()) +
           " entries but \"b\" has " + std::to_string(tableau.b.size());
  });
  tableau.a = ParseMatrix(json, tableau.stages, source);
  if (json.contains("b_embedded")) {
    tableau.embedded_order = ParseOrder(json, "embedded_order", source);
    tableau.b_embedded = ParseVector(json, "b_embedded", source);
    Require(tableau.b_embedded.size() == tableau.b.size(), [&] {
      return source + ": field \"b_embedded\" has " + std::to_string(tableau.b_embedded.size()) +
             " entries but \"b\" has " + std::to_string(tableau.b.size());
    });
  }
  ValidateTableau(tableau, source);
  if (name != nullptr) *name = name_value.get<std::string>();
  return tableau;
}

ButcherTableau ReadTableauFile(const std::string& path, std::string* name) {
  const std::string source = "tableau file '" + path + "'";
  switch (KindOfInputFile(path)) {
    case InputFileKind::kMissing:
      throw InputError("cannot open " + source + ": no such file; check the path");
    case InputFileKind::kDirectory:
      throw InputError(source + " is a directory, not a JSON file");
    case InputFileKind::kNotRegular:
      throw InputError(source + " is not a regular file (a device or a pipe)");
    case InputFileKind::kRegular:
      break;
  }
  // The size on disk is not trusted: at most one byte more than the limit is read.
  const std::string text =
      ReadInputFilePrefix(path, static_cast<std::size_t>(kMaxTableauFileBytes), source);
  if (text.size() > static_cast<std::size_t>(kMaxTableauFileBytes)) {
    throw InputError(source + " is larger than the " + std::to_string(kMaxTableauFileBytes) +
                     " bytes a tableau file may have");
  }
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& e) {
    throw InputError(source + " is not valid JSON: " + e.what());
  }
  return ParseTableau(json, source, name);
}

}  // namespace snode
