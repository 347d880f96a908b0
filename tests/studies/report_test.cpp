// Tests of studies/report.hpp: number formats, tables and gnuplot rendering.
#include "studies/report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/errors.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode {
namespace {

namespace fs = std::filesystem;
using test_util::TempDir;

TEST(Report, FormatsNumbers) {
  EXPECT_EQ(FormatCompact(1e-3), "1e-3");
  EXPECT_EQ(FormatCompact(1e4), "1e4");
  EXPECT_EQ(FormatCompact(100), "100");
  EXPECT_EQ(FormatCompact(3390.0), "3.39e3");
  EXPECT_EQ(FormatCompact(0.5), "0.5");
  EXPECT_EQ(FormatNumber(std::nan("")), "nan");
  EXPECT_EQ(FormatScientific(-INFINITY), "-inf");
  EXPECT_EQ(FormatSeconds(0.0123), "12.3 ms");
  EXPECT_EQ(FormatBytes(2048), "2.0 kB");
}

TEST(Report, TablePadsColumnsAndRejectsRaggedRows) {
  Table table({"name", "value"});
  table.AddRow({"a", "1"});
  table.AddRow({"λλλλλ", "12345"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_NE(out.str().find("a          1\n"), std::string::npos) << out.str();
  EXPECT_THROW(table.AddRow({"x"}), ConfigError);
}

TEST(Report, RendersGnuplotOrSaysWhy) {
  const fs::path dir = TempDir("plot");
  std::ofstream(dir / "d.dat") << "1 1\n2 4\n3 9\n";
  const PlotResult result =
      RenderGnuplot(dir.string(), "p", "set xlabel 'x'\nset ylabel 'y'\nplot 'd.dat' w lp");
  EXPECT_TRUE(fs::exists(dir / "p.gp"));
  if (GnuplotAvailable()) {
    ASSERT_TRUE(result.rendered) << result.note;
    EXPECT_GT(fs::file_size(dir / "p.png"), 1000u);
    EXPECT_GT(fs::file_size(dir / "p.svg"), 1000u);
  } else {
    EXPECT_FALSE(result.rendered);
    EXPECT_NE(result.note.find("gnuplot not found"), std::string::npos);
  }
  ::setenv("SNODE_GNUPLOT", "none", 1);
  const PlotResult absent = RenderGnuplot(dir.string(), "q", "plot 'd.dat'");
  ::unsetenv("SNODE_GNUPLOT");
  EXPECT_FALSE(absent.rendered);
  EXPECT_NE(absent.note.find("gnuplot not found"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "q.gp"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace snode
