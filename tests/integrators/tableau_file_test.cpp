// Tests of tableau files: parsing (numbers and exact fractions, the short forms of A's rows), the
// example files, and every bad input with the message it gives (file, field, condition).
#include "integrators/tableau_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/errors.hpp"
#include "integrators/butcher_tableau.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode {
namespace {

using Json = nlohmann::json;

const std::string kExamples = SNODE_TABLEAU_EXAMPLES_DIR;

Json BogackiShampine() {
  return Json::parse(R"({
    "name": "bs",
    "order": 3,
    "embedded_order": 2,
    "c": [0, "1/2", "3/4", 1],
    "A": [[], ["1/2"], [0, "3/4"], ["2/9", "1/3", "4/9"]],
    "b": ["2/9", "1/3", "4/9", 0],
    "b_embedded": ["7/24", "1/4", "1/3", "1/8"]
  })");
}

// The ConfigError message of parsing json, or "" when it parses.
std::string ParseError(const Json& json) {
  try {
    ParseTableau(json, "tableau file 't.json'");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string WithChange(const std::function<void(Json&)>& change) {
  Json json = BogackiShampine();
  change(json);
  return ParseError(json);
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

TEST(TableauFile, ParsesFractionsExactlyAndShortRows) {
  std::string name;
  const ButcherTableau t = ParseTableau(BogackiShampine(), "test", &name);
  EXPECT_EQ(name, "bs");
  EXPECT_EQ(t.stages, 4);
  EXPECT_EQ(t.order, 3);
  EXPECT_EQ(t.embedded_order, 2);
  EXPECT_TRUE(t.IsExplicit());
  EXPECT_EQ(t.a(3, 0), 2.0 / 9.0);  // bit for bit
  EXPECT_EQ(t.a(3, 1), 1.0 / 3.0);
  EXPECT_EQ(t.a(2, 0), 0.0);
  EXPECT_EQ(t.a(0, 3), 0.0);
  EXPECT_EQ(t.b_embedded[0], 7.0 / 24.0);
  EXPECT_EQ(t.c[2], 0.75);
}

TEST(TableauFile, CoefficientForms) {
  EXPECT_EQ(ParseCoefficient(Json(0.25), "x"), 0.25);
  EXPECT_EQ(ParseCoefficient(Json(-3), "x"), -3.0);
  EXPECT_EQ(ParseCoefficient(Json("2/9"), "x"), 2.0 / 9.0);
  EXPECT_EQ(ParseCoefficient(Json("-1/3"), "x"), -1.0 / 3.0);
  EXPECT_EQ(ParseCoefficient(Json(" 1 / 3 "), "x"), 1.0 / 3.0);
  EXPECT_EQ(ParseCoefficient(Json("0.125"), "x"), 0.125);
  EXPECT_EQ(ParseCoefficient(Json("1.5/4"), "x"), 0.375);
  for (const Json& bad : {Json("2/0"), Json("abc"), Json("1/2/3"), Json(""), Json("1/"),
                          Json("nan"), Json("1e999"), Json(true), Json(nullptr), Json::array()}) {
    try {
      ParseCoefficient(bad, "field \"b\" entry 2");
      ADD_FAILURE() << bad.dump() << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_CONTAINS(e.what(), "field \"b\" entry 2: ");
      EXPECT_CONTAINS(e.what(), "is not a number or a fraction");
    }
  }
}

TEST(TableauFile, FullRowsAndDiagonalRowsAreAccepted) {
  Json json = BogackiShampine();
  json["A"] = Json::parse(R"([[0, 0, 0, 0], ["1/2", 0, 0, 0], [0, "3/4", 0, 0],
                               ["2/9", "1/3", "4/9", 0]])");
  EXPECT_EQ(ParseError(json), "");
  json["A"] = Json::parse(R"([[0], ["1/2", 0], [0, "3/4", 0], ["2/9", "1/3", "4/9", 0]])");
  EXPECT_EQ(ParseError(json), "");
}

TEST(TableauFile, StructuralErrorsNameTheField) {
  EXPECT_CONTAINS(ParseError(Json::array()), "tableau file 't.json': must be a JSON object");
  EXPECT_CONTAINS(WithChange([](Json& j) { j.erase("b"); }), "field \"b\" is missing");
  EXPECT_CONTAINS(WithChange([](Json& j) { j.erase("name"); }), "field \"name\" is missing");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["b_embeded"] = 1; }),
                  "unknown field \"b_embeded\"; known: name, description");
  EXPECT_CONTAINS(WithChange([](Json& j) { j.erase("embedded_order"); }),
                  "fields \"b_embedded\" and \"embedded_order\" go together");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["name"] = 3; }),
                  "field \"name\" must be a non-empty string");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["order"] = 2.5; }),
                  "field \"order\" must be an integer in 1..10, not 2.5");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["order"] = 0; }),
                  "field \"order\" must be an integer in 1..10");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["embedded_order"] = "2"; }),
                  "field \"embedded_order\" must be an integer");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["b"] = Json::array(); }),
                  "field \"b\" must be a non-empty array");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["c"] = Json::parse("[0, 0.5, 0.75]"); }),
                  "field \"c\" has 3 entries but \"b\" has 4");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["b_embedded"] = Json::parse("[1, 0]"); }),
                  "field \"b_embedded\" has 2 entries but \"b\" has 4");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["A"].erase(3); }),
                  "field \"A\" has 3 rows but \"b\" has 4 stages");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["A"][2] = Json::parse("[0]"); }),
                  "field \"A\" row 3 must be an array of 4 entries (or the 3 up to the diagonal, "
                  "or the 2 below it), not [0]");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["A"][1] = "1/2"; }),
                  "field \"A\" row 2 must be an array");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["A"][3][1] = "one third"; }),
                  "field \"A\" row 4 column 2: \"one third\" is not a number or a fraction");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["b"][0] = "2/0"; }),
                  "field \"b\" entry 1: \"2/0\" is not a number or a fraction");
}

TEST(TableauFile, ConsistencyErrorsNameTheCondition) {
  EXPECT_CONTAINS(WithChange([](Json& j) { j["A"][2][1] = "3/5"; }),
                  "tableau file 't.json': c entry 3 = 0.75 but row 3 of A sums to 0.6 "
                  "(c_i = Σ_j a_ij is required)");
  // An entry above the diagonal: neither explicit nor diagonally implicit.
  EXPECT_CONTAINS(WithChange([](Json& j) { j["A"][1] = Json::parse(R"([0, 0, "1/2", 0])"); }),
                  "A row 2 column 3 = 0.5 is above the diagonal");
  EXPECT_CONTAINS(WithChange([](Json& j) { j["b_embedded"] = j["b"]; }),
                  "b_embedded equals b, so the error estimate would always be zero");
}

TEST(TableauFile, OrderConditionFailuresNameTheFirstFailedCondition) {
  // Claiming order 4 for a third-order method.
  EXPECT_CONTAINS(WithChange([](Json& j) { j["order"] = 4; }),
                  "tableau file 't.json': weights b fail order condition 5 of order 4, "
                  "Σ b_i c_i^3 = 1/4: got 0.2292 (residual -2.1e-02); the tableau claims order 4");
  // A wrong weight.
  EXPECT_CONTAINS(WithChange([](Json& j) { j["b"][1] = "1/4"; }),
                  "weights b fail order condition 1 of order 1, Σ b_i = 1: got 0.9167 "
                  "(residual -8.3e-02); the tableau claims order 3");
  // Claiming order 3 for the embedding.
  EXPECT_CONTAINS(WithChange([](Json& j) { j["embedded_order"] = 3; }),
                  "embedded weights b_embedded fail order condition 3 of order 3");
  // Coefficients given to too few digits.
  EXPECT_CONTAINS(
      WithChange([](Json& j) { j["b"] = Json::parse("[0.2222222, 0.3333333, 0.4444444, 0]"); }),
      "order condition 1 of order 1, Σ b_i = 1: got 1 (residual -1.0e-07)");
}

TEST(TableauFile, ValidateTableauChecksCodeBuiltTableaus) {
  ButcherTableau t = ExplicitTableau("rk4");
  EXPECT_NO_THROW(ValidateTableau(t, "tableau 'rk4'"));
  t.embedded_order = 2;
  try {
    ValidateTableau(t, "tableau 'rk4'");
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "tableau 'rk4': embedded_order 2 without b_embedded");
  }
  t = ExplicitTableau("rk4");
  t.b.resize(3);
  EXPECT_THROW(ValidateTableau(t, "x"), ConfigError);
  t = ExplicitTableau("rk4");
  t.a(1, 0) = std::nan("");
  EXPECT_THROW(ValidateTableau(t, "x"), ConfigError);
  t = ButcherTableau();
  EXPECT_THROW(ValidateTableau(t, "x"), ConfigError);
}

TEST(TableauFile, ExampleFilesLoadAndTheWrongOneIsRejected) {
  std::string name;
  const ButcherTableau bs = ReadTableauFile(kExamples + "/bogacki_shampine.json", &name);
  EXPECT_EQ(name, "bogacki_shampine");
  EXPECT_TRUE(bs.IsExplicit());
  EXPECT_EQ(bs.order, 3);
  const ButcherTableau sdirk2 = ReadTableauFile(kExamples + "/sdirk2.json", &name);
  EXPECT_EQ(name, "sdirk2");
  EXPECT_FALSE(sdirk2.IsExplicit());
  EXPECT_EQ(sdirk2.order, 2);
  EXPECT_EQ(sdirk2.embedded_order, 1);
  EXPECT_NEAR(StabilityFunction(sdirk2, -1e8), 0.0, 1e-7);  // L-stable
  const std::string wrong = kExamples + "/wrong_coefficient.json";
  try {
    ReadTableauFile(wrong);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "tableau file '" + wrong + "': weights b fail order condition 1");
  }
}

TEST(TableauFile, UnreadableTooLargeAndMalformedFilesAreInputErrors) {
  const std::filesystem::path dir = test_util::TempDir("tableau_file");
  auto message = [](const std::string& path) -> std::string {
    try {
      ReadTableauFile(path);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no InputError";
  };
  const std::string missing = (dir / "missing.json").string();
  EXPECT_CONTAINS(message(missing), "cannot open tableau file '" + missing + "'");
  const std::string bad = (dir / "bad.json").string();
  std::ofstream(bad) << "{\"name\": \"x\", ";
  EXPECT_CONTAINS(message(bad), "tableau file '" + bad + "' is not valid JSON");
  const std::string empty = (dir / "empty.json").string();
  std::ofstream(empty).flush();
  EXPECT_CONTAINS(message(empty), "tableau file '" + empty + "' is not valid JSON");
  const std::string large = (dir / "large.json").string();
  std::ofstream(large) << std::string(kMaxTableauFileBytes + 1, ' ');
  EXPECT_CONTAINS(message(large), "tableau file '" + large + "' is larger than the 1048576 bytes");
  EXPECT_CONTAINS(message(dir.string()),
                  "tableau file '" + dir.string() + "' is a directory, not a JSON file");
  // A device (it could block or never end) is refused before it is opened.
  EXPECT_CONTAINS(message("/dev/zero"),
                  "tableau file '/dev/zero' is not a regular file (a device or a pipe)");
  // Content errors are ConfigErrors naming the file.
  const std::string content = (dir / "content.json").string();
  std::ofstream(content) << "{\"name\": \"x\"}";
  try {
    ReadTableauFile(content);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "tableau file '" + content + "': field \"order\" is missing");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace snode
