// Tests of core/input_file.hpp: what a path is, and reads bounded by a limit whatever the path.
#include "core/input_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode {
namespace {

namespace fs = std::filesystem;

TEST(InputFile, KindNamesMissingDirectoryDeviceFifoAndRegularFiles) {
  const fs::path dir = test_util::TempDir("input_file_kind");
  const fs::path file = dir / "a.txt";
  std::ofstream(file) << "x";
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(KindOfInputFile((dir / "nothing").string()), InputFileKind::kMissing);
  EXPECT_EQ(KindOfInputFile(dir.string()), InputFileKind::kDirectory);
  EXPECT_EQ(KindOfInputFile("/dev/zero"), InputFileKind::kNotRegular);
  EXPECT_EQ(KindOfInputFile(fifo.string()), InputFileKind::kNotRegular);  // opening it would block
  EXPECT_EQ(KindOfInputFile(file.string()), InputFileKind::kRegular);
  fs::remove_all(dir);
}

TEST(InputFile, PrefixIsAtMostOneByteOverTheLimit) {
  const fs::path dir = test_util::TempDir("input_file_prefix");
  const fs::path file = dir / "big.txt";
  std::ofstream(file) << std::string(1000, 'a');
  EXPECT_EQ(ReadInputFilePrefix(file.string(), 2000, "big").size(), 1000u);
  EXPECT_EQ(ReadInputFilePrefix(file.string(), 1000, "big").size(), 1000u);  // at the limit
  EXPECT_EQ(ReadInputFilePrefix(file.string(), 999, "big").size(), 1000u);   // over it
  EXPECT_EQ(ReadInputFilePrefix(file.string(), 10, "big").size(), 11u);
  // A device that never ends gives limit + 1 bytes, not an endless read.
  EXPECT_EQ(ReadInputFilePrefix("/dev/zero", 4096, "zero").size(), 4097u);
  try {
    ReadInputFilePrefix((dir / "nothing").string(), 10, "file 'nothing'");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "file 'nothing': cannot open: No such file or directory");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace snode
