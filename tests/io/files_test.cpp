// Tests of io/files.hpp: CSV and JSON written atomically, errors naming the path.
#include "io/files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode {
namespace {

namespace fs = std::filesystem;
using test_util::ReadAll;
using test_util::TempDir;

TEST(Files, WritesCsvJsonAtomically) {
  const fs::path dir = TempDir("files");
  WriteCsv((dir / "a.csv").string(), {"x", "y"}, {{"1", "has,comma"}, {"2", "quote\"d"}});
  EXPECT_EQ(ReadAll(dir / "a.csv"), "x,y\n1,\"has,comma\"\n2,\"quote\"\"d\"\n");
  WriteJson((dir / "b.json").string(), {{"v", JsonNumber(NAN)}, {"w", 2.5}});
  const nlohmann::json parsed = nlohmann::json::parse(ReadAll(dir / "b.json"));
  EXPECT_TRUE(parsed["v"].is_null());
  EXPECT_DOUBLE_EQ(parsed["w"].get<double>(), 2.5);
  // No temporary files left behind.
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_THROW(AtomicWriteFile("/proc/snode_cannot_write/x", "y"), InputError);
  fs::remove_all(dir);
}

// --out is created and probed before any work: a directory the results could not be written to
// fails at once, and the probe leaves nothing behind.
TEST(Files, PrepareOutputDirectoryCreatesProbesAndNamesTheFlag) {
  const fs::path dir = TempDir("prepare_out");
  const fs::path out = dir / "a" / "b";
  PrepareOutputDirectory(out.string());
  EXPECT_TRUE(fs::is_directory(out));
  EXPECT_TRUE(fs::is_empty(out));
  try {
    PrepareOutputDirectory("/proc/self");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--out '/proc/self': cannot write there (creating a file failed: No such file or "
              "directory)");
  }
  std::ofstream(dir / "file") << "x";
  try {
    PrepareOutputDirectory((dir / "file").string(), "--results");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--results '" + (dir / "file").string() +
                                         "': cannot write there"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace snode
