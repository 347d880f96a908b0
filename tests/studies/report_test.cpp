// Tests of studies/report.hpp: number formats, tables, gnuplot rendering, text shortening,
// gnuplot quoting and styles, bench time cells and the reconstruction panels' data file.
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

TEST(Report, Shorten) {
  EXPECT_EQ(Shorten("a\nb", 10), "a b");
  EXPECT_EQ(Shorten("abcdefghij", 8), "abcde...");
  EXPECT_EQ(Shorten("abcdefgh", 8), "abcdefgh");
}

TEST(Report, GnuplotQuotingAndStyles) {
  EXPECT_EQ(GnuplotQuote("it's"), "'it''s'");
  EXPECT_EQ(GnuplotEscape("bptt/rk4 h_1 {x}"), "bptt/rk4 h\\_1 \\{x\\}");
  EXPECT_EQ(GnuplotSeriesStyle(0), "lw 1.6 ps 1.1 pt 1 dt 1 lc rgb '#1b9e77'");
  EXPECT_NE(GnuplotSeriesStyle(1), GnuplotSeriesStyle(0));
}

TEST(Report, TimeCells) {
  EXPECT_EQ(
      TimeCells({2e-3, 1e-3, 2.0}),
      (std::vector<std::string>{FormatSeconds(2e-3), FormatSeconds(1e-3), FormatSeconds(2.0)}));
}

TEST(Report, ReconstructionPanelsWriteTwoBlocksPerPanel) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / "snode_report_test_panels").string();
  std::filesystem::remove_all(dir);
  ReconstructionPanel panel;
  panel.lambda = 1.0;
  panel.exact_comment = "exact";
  panel.reconstructed_comment = "reconstructed";
  panel.label = "rec";
  panel.times = {1.0, 0.75, 0.5};
  // Drawn as |value|; a subnormal value is left out (gnuplot's log axis refuses it).
  panel.values = {std::exp(-1.0), 4.9e-324, -std::exp(-0.5)};
  const PlotResult plot =
      PlotReconstructionPanels(dir, "panels", "title", "|y(t)|", {panel}, 600, 400);
  std::ifstream data(dir + "/panels.dat");
  std::stringstream text;
  text << data.rdbuf();
  EXPECT_EQ(text.str().rfind("# exact\n0 1\n", 0), 0u);
  EXPECT_NE(text.str().find("\n\n\n# reconstructed\n1 0.3678794412\n0.5 0.6065306597\n\n\n"),
            std::string::npos);
  std::ifstream script(dir + "/panels.gp");
  std::stringstream gp;
  gp << script.rdbuf();
  EXPECT_NE(gp.str().find("set multiplot layout 1,1 title 'title'"), std::string::npos);
  EXPECT_NE(gp.str().find("title 'rec, non-finite below t = 0.5'"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace snode
